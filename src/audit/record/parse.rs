//! The strict parser of record lines read back (part of [`super`]: the
//! layouts every event must follow, [`LineView`], [`parse_object`]).
#![forbid(unsafe_code)]

use super::*;

/// Why a line is not a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// Byte offset within the line.
    pub at: usize,
    pub what: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at byte {}", self.what, self.at)
    }
}

/// A value in the JSON subset records use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value<'a> {
    Null,
    Int(u64),
    /// A negative integer, by its magnitude (never 0): only the
    /// `"clock_skew"` extension may hold one (a wall clock set back).
    Neg(u64),
    /// Raw string contents between the quotes, still escaped.
    Str(&'a [u8]),
    /// Raw (still escaped) strings.
    Arr(Vec<&'a [u8]>),
    /// An object of integers (`"timing"`): raw keys and values, in order.
    Obj(Vec<(&'a [u8], u64)>),
    /// `true` or `false` (exit records, `"monitor":true`).
    Bool(bool),
}

/// One `"key":value` member.
#[derive(Debug, Clone)]
pub struct Field<'a> {
    /// Raw key bytes (between the quotes).
    pub key: &'a [u8],
    /// Offset in the line of the `{` or `,` before the key.
    pub sep: usize,
    pub value: Value<'a>,
}

struct P<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> P<'a> {
    fn err<T>(&self, what: impl Into<String>) -> Result<T, ParseError> {
        Err(ParseError {
            at: self.i,
            what: what.into(),
        })
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn eat(&mut self, c: u8) -> Result<(), ParseError> {
        if self.peek() == Some(c) {
            self.i += 1;
            Ok(())
        } else if self.peek().is_none() {
            self.err(format!(
                "unexpected end of line, expected '{}'",
                char::from(c)
            ))
        } else {
            self.err(format!("expected '{}'", char::from(c)))
        }
    }

    fn hex4(&mut self) -> Result<u32, ParseError> {
        let mut v = 0u32;
        for _ in 0..4 {
            let d = match self.peek() {
                Some(c @ b'0'..=b'9') => c - b'0',
                Some(c @ b'a'..=b'f') => c - b'a' + 10,
                Some(c @ b'A'..=b'F') => c - b'A' + 10,
                _ => return self.err("bad \\u escape"),
            };
            v = (v << 4) | u32::from(d);
            self.i += 1;
        }
        Ok(v)
    }

    fn string(&mut self) -> Result<&'a [u8], ParseError> {
        self.eat(b'"')?;
        let start = self.i;
        loop {
            match self.peek() {
                None => return self.err("unterminated string"),
                Some(b'"') => break,
                Some(b'\\') => {
                    self.i += 1;
                    match self.peek() {
                        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => self.i += 1,
                        Some(b'u') => {
                            self.i += 1;
                            let v = self.hex4()?;
                            if (0xd800..=0xdfff).contains(&v) {
                                return self.err("surrogate \\u escape");
                            }
                        }
                        _ => return self.err("bad escape"),
                    }
                }
                Some(0..=0x1f) => return self.err("raw control character in string"),
                Some(_) => self.i += 1,
            }
        }
        let raw = &self.b[start..self.i];
        self.i += 1;
        if let Err(e) = std::str::from_utf8(raw) {
            return Err(ParseError {
                at: start + e.valid_up_to(),
                what: "invalid UTF-8 in string".into(),
            });
        }
        Ok(raw)
    }

    fn number(&mut self) -> Result<u64, ParseError> {
        let start = self.i;
        let mut n: u64 = 0;
        while let Some(c @ b'0'..=b'9') = self.peek() {
            n = match n
                .checked_mul(10)
                .and_then(|n| n.checked_add(u64::from(c - b'0')))
            {
                Some(n) => n,
                None => return self.err("number out of range"),
            };
            self.i += 1;
        }
        if self.i - start > 1 && self.b[start] == b'0' {
            return Err(ParseError {
                at: start,
                what: "number with leading zero".into(),
            });
        }
        Ok(n)
    }

    fn value(&mut self) -> Result<Value<'a>, ParseError> {
        match self.peek() {
            Some(b'"') => Ok(Value::Str(self.string()?)),
            Some(b'0'..=b'9') => Ok(Value::Int(self.number()?)),
            Some(b'-') => {
                self.i += 1;
                if !matches!(self.peek(), Some(b'0'..=b'9')) {
                    return self.err("'-' without digits");
                }
                let start = self.i;
                match self.number()? {
                    0 => Err(ParseError {
                        at: start - 1,
                        what: "negative zero".into(),
                    }),
                    n => Ok(Value::Neg(n)),
                }
            }
            Some(b'n' | b't' | b'f') => {
                let rest = &self.b[self.i..];
                for (word, v) in [
                    (&b"null"[..], Value::Null),
                    (b"true", Value::Bool(true)),
                    (b"false", Value::Bool(false)),
                ] {
                    if rest.starts_with(word) {
                        self.i += word.len();
                        return Ok(v);
                    }
                }
                self.err("unexpected value")
            }
            Some(b'[') => {
                self.i += 1;
                let mut v = Vec::new();
                if self.peek() == Some(b']') {
                    self.i += 1;
                    return Ok(Value::Arr(v));
                }
                loop {
                    v.push(self.string()?);
                    match self.peek() {
                        Some(b',') => self.i += 1,
                        Some(b']') => {
                            self.i += 1;
                            return Ok(Value::Arr(v));
                        }
                        _ => return self.err("expected ',' or ']' in array"),
                    }
                }
            }
            Some(b'{') => {
                self.i += 1;
                let mut v = Vec::new();
                loop {
                    let k = self.string()?;
                    self.eat(b':')?;
                    if !matches!(self.peek(), Some(b'0'..=b'9')) {
                        return self.err("nested object values must be integers");
                    }
                    v.push((k, self.number()?));
                    match self.peek() {
                        Some(b',') => self.i += 1,
                        Some(b'}') => {
                            self.i += 1;
                            return Ok(Value::Obj(v));
                        }
                        _ => return self.err("expected ',' or '}' in object"),
                    }
                }
            }
            None => self.err("unexpected end of line"),
            Some(_) => self.err("unexpected value"),
        }
    }
}

/// Parse one line (without its `\n`) as a flat JSON object in the subset
/// records use: no whitespace; values are strings, integers,
/// `null`, `true`, `false`, arrays of strings or non-empty objects of
/// non-negative integers. Everything it accepts is valid JSON.
pub fn parse_object(line: &[u8]) -> Result<Vec<Field<'_>>, ParseError> {
    let mut p = P { b: line, i: 0 };
    p.eat(b'{')?;
    let mut fields = Vec::with_capacity(24);
    loop {
        let sep = p.i - 1;
        let key = p.string()?;
        p.eat(b':')?;
        let value = p.value()?;
        fields.push(Field { key, sep, value });
        match p.peek() {
            Some(b',') => p.i += 1,
            Some(b'}') => {
                p.i += 1;
                break;
            }
            None => return p.err("unexpected end of line"),
            Some(_) => return p.err("expected ',' or '}'"),
        }
    }
    if p.i != line.len() {
        return p.err("trailing bytes after the object");
    }
    Ok(fields)
}

/// Kind of a parsed record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    Accept,
    Reject,
    Recovery,
    /// Closes an epoch of the keyed MAC.
    Seal,
    /// Closes a file at rotation, or opens the next one.
    Rotate,
    /// Incident response (`alert`, `freeze`, `unfreeze`,
    /// `unfreeze-refused`): the layout of accept/reject.
    Incident,
    /// How a monitored command ended.
    Exit,
    /// `bdexec -v`: authenticated, nothing ran (the layout of accept).
    Validate,
    /// `bdexec -e`: a file edited (the layout of accept, with `before`
    /// and `after`).
    Edit,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Accept => "accept",
            EventKind::Reject => "reject",
            EventKind::Recovery => "recovery",
            EventKind::Seal => "seal",
            EventKind::Rotate => "rotate",
            EventKind::Incident => "incident",
            EventKind::Exit => "exit",
            EventKind::Validate => "validate",
            EventKind::Edit => "edit",
        }
    }
}

#[derive(Clone, Copy)]
enum Ty {
    U64,
    Str,
    OptStr,
    OptU64,
    StrArr,
    Hex,
    OptHex,
    Bool,
}

const RECORD_LAYOUT: &[(&str, Ty)] = &[
    ("seq", Ty::U64),
    ("event", Ty::Str),
    ("time", Ty::Str),
    ("uuid", Ty::Str),
    ("host", Ty::Str),
    ("pid", Ty::U64),
    ("submituser", Ty::OptStr),
    ("submituid", Ty::U64),
    ("submitgid", Ty::U64),
    ("ttyname", Ty::OptStr),
    ("submitcwd", Ty::OptStr),
    ("runuser", Ty::OptStr),
    ("runuid", Ty::OptU64),
    ("rungid", Ty::OptU64),
    ("command", Ty::OptStr),
    ("runargv", Ty::StrArr),
    ("rule", Ty::OptStr),
    ("reason", Ty::Str),
    ("policy_hash", Ty::OptHex),
];

const SEAL_LAYOUT: &[(&str, Ty)] = &[
    ("seq", Ty::U64),
    ("event", Ty::Str),
    ("time", Ty::Str),
    ("host", Ty::Str),
    ("pid", Ty::U64),
    ("seal_epoch", Ty::U64),
    ("seal_records", Ty::U64),
];

const ROTATE_LAYOUT: &[(&str, Ty)] = &[
    ("seq", Ty::U64),
    ("event", Ty::Str),
    ("time", Ty::Str),
    ("host", Ty::Str),
    ("pid", Ty::U64),
    ("rotate", Ty::Str),
    ("rotate_index", Ty::U64),
    ("retired_index", Ty::U64),
    ("retired_seq", Ty::U64),
    ("retired_head", Ty::Hex),
];

/// An exit record's fields; the one after `accept` is `status` (a
/// number) or `signal` (a name), see [`exit_layout`].
const EXIT_LAYOUT: &[(&str, Ty)] = &[
    ("seq", Ty::U64),
    ("event", Ty::Str),
    ("time", Ty::Str),
    ("uuid", Ty::Str),
    ("host", Ty::Str),
    ("pid", Ty::U64),
    ("accept", Ty::Str),
    ("status", Ty::U64),
    ("core_dumped", Ty::Bool),
    ("duration_us", Ty::U64),
    ("maxrss_kb", Ty::U64),
    ("utime_us", Ty::U64),
    ("stime_us", Ty::U64),
];

const EXIT_SIGNAL_LAYOUT: &[(&str, Ty)] = &[
    ("seq", Ty::U64),
    ("event", Ty::Str),
    ("time", Ty::Str),
    ("uuid", Ty::Str),
    ("host", Ty::Str),
    ("pid", Ty::U64),
    ("accept", Ty::Str),
    ("signal", Ty::Str),
    ("core_dumped", Ty::Bool),
    ("duration_us", Ty::U64),
    ("maxrss_kb", Ty::U64),
    ("utime_us", Ty::U64),
    ("stime_us", Ty::U64),
];

/// The layout of an exit record whose fields are `fields`.
fn exit_layout(fields: &[Field<'_>]) -> &'static [(&'static str, Ty)] {
    match fields.get(7) {
        Some(f) if f.key == b"signal" => EXIT_SIGNAL_LAYOUT,
        _ => EXIT_LAYOUT,
    }
}

const RECOVERY_LAYOUT: &[(&str, Ty)] = &[
    ("seq", Ty::U64),
    ("event", Ty::Str),
    ("time", Ty::Str),
    ("host", Ty::Str),
    ("pid", Ty::U64),
    ("torn_offset", Ty::U64),
    ("torn_length", Ty::U64),
    ("torn_hash", Ty::Hex),
];

fn type_ok(ty: Ty, v: &Value<'_>) -> bool {
    match (ty, v) {
        (Ty::U64, Value::Int(_)) => true,
        (Ty::Str, Value::Str(_)) => true,
        (Ty::OptStr, Value::Str(_) | Value::Null) => true,
        (Ty::OptU64, Value::Int(_) | Value::Null) => true,
        (Ty::StrArr, Value::Arr(_)) => true,
        (Ty::Hex | Ty::OptHex, Value::Str(s)) => parse_hex32(s).is_some(),
        (Ty::OptHex, Value::Null) => true,
        (Ty::Bool, Value::Bool(_)) => true,
        _ => false,
    }
}

/// A line parsed as a record (structure only: [`LineView::hash_ok`]
/// checks `h`; chain continuity is the verifier's job).
#[derive(Debug, Clone)]
pub struct LineView<'a> {
    pub seq: u64,
    pub event: EventKind,
    pub prev: [u8; 32],
    pub h: [u8; 32],
    /// The hashed bytes: between `{` and `,"prev":`.
    pub body: &'a [u8],
    /// Set for recovery records.
    pub torn: Option<Torn>,
    /// The optional trailing `mac` (raw), not checked here.
    pub mac: Option<&'a [u8]>,
    /// The `epoch` extension field, when present.
    pub epoch: Option<u64>,
    /// For a seal: (`seal_epoch`, `seal_records`).
    pub seal: Option<(u64, u64)>,
    /// For a rotate record: what it says.
    pub rotation: Option<Rotation>,
    pub fields: Vec<Field<'a>>,
}

fn field_err<T>(f: &Field<'_>, what: String) -> Result<T, ParseError> {
    Err(ParseError {
        at: f.sep + 1,
        what,
    })
}

/// The extension fields with a fixed shape: `"timing"` (exactly the
/// keys of [`timing::KEYS`], in order, integers) and `"traceparent"` (a
/// valid header or `"invalid"`). Objects appear nowhere else.
fn check_known_extension(f: &Field<'_>) -> Result<(), ParseError> {
    match (f.key, &f.value) {
        (b"timing", Value::Obj(members)) => {
            let keys: Vec<&[u8]> = members.iter().map(|(k, _)| *k).collect();
            let want: Vec<&[u8]> = timing::KEYS.iter().map(|k| k.as_bytes()).collect();
            if keys != want {
                return field_err(
                    f,
                    "field \"timing\" must hold recv, auth, validate, append".into(),
                );
            }
        }
        (b"timing", _) => return field_err(f, "field \"timing\" is not an object".into()),
        (b"traceparent", Value::Str(s)) if timing::traceparent_recordable(s) => {}
        (b"traceparent", _) => {
            return field_err(
                f,
                "field \"traceparent\" is not a valid traceparent or \"invalid\"".into(),
            );
        }
        (b"clock_skew", Value::Int(_)) => {}
        (b"clock_skew", Value::Neg(n)) if *n <= i64::MIN.unsigned_abs() => {}
        (b"clock_skew", _) => {
            return field_err(f, "field \"clock_skew\" is not a 64-bit integer".into());
        }
        (_, Value::Neg(_)) => {
            return field_err(
                f,
                format!("field \"{}\" may not be negative", key_str(f.key)),
            );
        }
        (_, Value::Obj(_)) => {
            return field_err(
                f,
                format!("field \"{}\" may not be an object", key_str(f.key)),
            );
        }
        _ => {}
    }
    Ok(())
}

/// The fields of a `rotate` line whose layout was checked.
fn parse_rotation(fields: &[Field<'_>]) -> Result<Rotation, ParseError> {
    let int = |i: usize| match fields[i].value {
        Value::Int(n) => n,
        _ => 0,
    };
    let close = match fields[5].value {
        Value::Str(b"close") => true,
        Value::Str(b"open") => false,
        _ => {
            return field_err(
                &fields[5],
                "field \"rotate\" is not \"close\" or \"open\"".into(),
            );
        }
    };
    let retired_head = match fields[9].value {
        Value::Str(s) => parse_hex32(s).unwrap_or([0; 32]),
        _ => [0; 32],
    };
    Ok(Rotation {
        close,
        index: int(6),
        retired_index: int(7),
        retired_seq: int(8),
        retired_head,
    })
}

fn key_str(k: &[u8]) -> String {
    crate::base::escape::display(k)
}

impl<'a> LineView<'a> {
    /// Parse and check the field layout of one line (without `\n`).
    pub fn parse(line: &'a [u8]) -> Result<Self, ParseError> {
        let fields = parse_object(line)?;
        let seq = match fields.first() {
            Some(Field {
                key: b"seq",
                value: Value::Int(n),
                ..
            }) => *n,
            _ => {
                return Err(ParseError {
                    at: 1,
                    what: "first field is not \"seq\":N".into(),
                });
            }
        };
        let event = match fields.get(1) {
            Some(Field {
                key: b"event",
                value: Value::Str(s),
                ..
            }) => match *s {
                b"accept" => EventKind::Accept,
                b"reject" => EventKind::Reject,
                b"recovery" => EventKind::Recovery,
                b"seal" => EventKind::Seal,
                b"rotate" => EventKind::Rotate,
                b"alert" | b"freeze" | b"unfreeze" | b"unfreeze-refused" => EventKind::Incident,
                b"exit" => EventKind::Exit,
                b"validate" => EventKind::Validate,
                b"edit" => EventKind::Edit,
                _ => return field_err(&fields[1], "unknown event".into()),
            },
            Some(f) => return field_err(f, "second field is not \"event\"".into()),
            None => {
                return Err(ParseError {
                    at: line.len(),
                    what: "missing \"event\"".into(),
                });
            }
        };
        let layout = match event {
            EventKind::Recovery => RECOVERY_LAYOUT,
            EventKind::Seal => SEAL_LAYOUT,
            EventKind::Rotate => ROTATE_LAYOUT,
            EventKind::Exit => exit_layout(&fields),
            EventKind::Accept
            | EventKind::Reject
            | EventKind::Incident
            | EventKind::Validate
            | EventKind::Edit => RECORD_LAYOUT,
        };
        for (i, (name, ty)) in layout.iter().enumerate() {
            let Some(f) = fields.get(i) else {
                return Err(ParseError {
                    at: line.len(),
                    what: format!("missing field \"{name}\""),
                });
            };
            if f.key != name.as_bytes() {
                return field_err(
                    f,
                    format!("expected field \"{name}\", found \"{}\"", key_str(f.key)),
                );
            }
            if !type_ok(*ty, &f.value) {
                return field_err(f, format!("field \"{name}\" has the wrong type"));
            }
        }
        // Extension fields (hashed), then prev, h, optional mac.
        let mut i = layout.len();
        let mut epoch = None;
        while let Some(f) = fields.get(i) {
            if f.key == b"prev" {
                break;
            }
            if f.key == b"epoch" {
                match f.value {
                    Value::Int(n) if epoch.is_none() => epoch = Some(n),
                    _ => {
                        return field_err(f, "field \"epoch\" is not a single integer".into());
                    }
                }
            }
            let well_formed = !f.key.is_empty()
                && f.key
                    .iter()
                    .all(|c| matches!(c, b'a'..=b'z' | b'0'..=b'9' | b'_'));
            let dup = fields[..i].iter().any(|g| g.key == f.key) || matches!(f.key, b"h" | b"mac");
            if !well_formed || dup {
                return field_err(f, format!("unexpected field \"{}\"", key_str(f.key)));
            }
            check_known_extension(f)?;
            i += 1;
        }
        let Some(pf) = fields.get(i) else {
            return Err(ParseError {
                at: line.len(),
                what: "missing field \"prev\"".into(),
            });
        };
        let prev = match &pf.value {
            Value::Str(s) => parse_hex32(s),
            _ => None,
        };
        let Some(prev) = prev else {
            return field_err(pf, "\"prev\" is not 64 hex digits".into());
        };
        let h = match fields.get(i + 1) {
            Some(Field {
                key: b"h",
                value: Value::Str(s),
                ..
            }) => parse_hex32(s),
            _ => None,
        };
        let Some(h) = h else {
            return Err(ParseError {
                at: pf.sep,
                what: "\"prev\" not followed by \"h\":64 hex".into(),
            });
        };
        let mut mac = None;
        if let Some(f) = fields.get(i + 2) {
            match f {
                Field {
                    key: b"mac",
                    value: Value::Str(s),
                    ..
                } if parse_hex32(s).is_some() => mac = Some(*s),
                _ => {
                    return field_err(
                        f,
                        format!("unexpected field \"{}\" after \"h\"", key_str(f.key)),
                    );
                }
            }
        }
        if let Some(f) = fields.get(i + 3) {
            return field_err(
                f,
                format!("unexpected field \"{}\" after \"mac\"", key_str(f.key)),
            );
        }
        let torn = if event == EventKind::Recovery {
            match (&fields[5].value, &fields[6].value, &fields[7].value) {
                (Value::Int(o), Value::Int(l), Value::Str(hs)) => {
                    parse_hex32(hs).map(|hash| Torn {
                        offset: *o,
                        length: *l,
                        hash,
                    })
                }
                _ => None,
            }
        } else {
            None
        };
        let seal = match (event, &fields[5].value, &fields[6].value) {
            (EventKind::Seal, Value::Int(e), Value::Int(n)) => Some((*e, *n)),
            _ => None,
        };
        let rotation = if event == EventKind::Rotate {
            Some(parse_rotation(&fields)?)
        } else {
            None
        };
        let body = &line[1..pf.sep];
        Ok(LineView {
            seq,
            event,
            prev,
            h,
            body,
            torn,
            mac,
            epoch,
            seal,
            rotation,
            fields,
        })
    }

    /// `h` matches the body, seq and prev of this line.
    pub fn hash_ok(&self) -> bool {
        chain_hash(self.seq, &self.prev, self.body) == self.h
    }

    /// The `mac` field decoded, when present.
    pub fn mac_bytes(&self) -> Option<[u8; 32]> {
        self.mac.and_then(parse_hex32)
    }

    /// The value of field `key`, if present.
    pub fn get(&self, key: &str) -> Option<&Value<'a>> {
        self.fields
            .iter()
            .find(|f| f.key == key.as_bytes())
            .map(|f| &f.value)
    }

    /// A string field, decoded (JSON escapes resolved); `None` when
    /// missing, null or not a string.
    pub fn text(&self, key: &str) -> Option<Vec<u8>> {
        match self.get(key) {
            Some(Value::Str(s)) => Some(decode_str(s)),
            _ => None,
        }
    }
}

impl LineView<'_> {
    /// The `"timing"` extension field, when present (checked by
    /// [`LineView::parse`]: exactly the four keys).
    pub fn timing(&self) -> Option<Timing> {
        match self.get("timing") {
            Some(Value::Obj(m)) if m.len() == 4 => Some(Timing {
                recv: m[0].1,
                auth: m[1].1,
                validate: m[2].1,
                append: m[3].1,
                sync_prev: match self.get("sync_prev_us") {
                    Some(Value::Int(n)) => Some(*n),
                    _ => None,
                },
            }),
            _ => None,
        }
    }
}

/// Resolve JSON escapes in a raw string accepted by [`parse_object`].
/// An escaped invalid byte (`\\xNN` in JSON) stays the text `\xNN`.
pub fn decode_str(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        let c = raw[i];
        if c != b'\\' || i + 1 >= raw.len() {
            out.push(c);
            i += 1;
            continue;
        }
        let e = raw[i + 1];
        i += 2;
        match e {
            b'b' => out.push(8),
            b'f' => out.push(12),
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b't' => out.push(b'\t'),
            b'u' => {
                let v = raw
                    .get(i..i + 4)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u32::from_str_radix(h, 16).ok())
                    .and_then(char::from_u32)
                    .unwrap_or(char::REPLACEMENT_CHARACTER);
                let mut buf = [0u8; 4];
                out.extend_from_slice(v.encode_utf8(&mut buf).as_bytes());
                i += 4;
            }
            other => out.push(other),
        }
    }
    out
}
