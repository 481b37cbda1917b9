use super::*;

fn one(line: &str) -> Entry {
    let r = read_str(line, "t").unwrap();
    assert_eq!(r.entries.len(), 1, "{:?}", r.entries);
    r.entries.into_iter().next().unwrap()
}

#[test]
fn continuation_and_comments() {
    let r = read_str("alice ALL = \\\n /usr/bin/id # hi\n# only\n\n", "t").unwrap();
    assert_eq!(r.entries.len(), 1);
    match &r.entries[0] {
        Entry::UserSpec {
            src, privileges, ..
        } => {
            assert_eq!(src.line, 1);
            assert_eq!(privileges[0].cmnds.len(), 1);
        }
        e => panic!("{e:?}"),
    }
}

#[test]
fn user_spec_with_tags_and_runas() {
    match one(
        "alice, %ops, #1500, %#20 ALL = (root, bob) NOPASSWD: /a x, PASSWD: /b \"\" : web = !/c",
    ) {
        Entry::UserSpec {
            users, privileges, ..
        } => {
            assert_eq!(users.len(), 4);
            assert_eq!(users[2].kind, MemberKind::Uid(1500));
            assert_eq!(users[3].kind, MemberKind::Gid(20));
            assert_eq!(privileges.len(), 2);
            let c = &privileges[0].cmnds;
            assert_eq!(c[0].tags, vec!["NOPASSWD".to_string()]);
            assert_eq!(c[1].tags, vec!["PASSWD".to_string()]);
            assert!(c[1].runas.is_some());
            assert!(matches!(
                &c[1].item.cmnd,
                Cmnd::Path {
                    args: ArgSpec::Empty,
                    ..
                }
            ));
            assert!(privileges[1].cmnds[0].item.negated);
        }
        e => panic!("{e:?}"),
    }
}

#[test]
fn bad_lines_are_unparsed() {
    assert!(matches!(one("alice ALL = (root"), Entry::Unparsed { .. }));
    assert!(matches!(
        one("alice ALL = /bin/x a=b"),
        Entry::Unparsed { .. }
    ));
    assert!(matches!(
        one("Cmnd_Alias X = /a, Y = /b"),
        Entry::Unparsed {
            alias: Some((AliasKind::Cmnd, _)),
            ..
        }
    ));
    let r = read_str("Cmnd_Alias X = /a : Y = /b", "t").unwrap();
    assert_eq!(r.entries.len(), 2);
}
