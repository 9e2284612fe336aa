//! Corosync's line rules and error positions.

use hasim_corosync_conf::{parse, parse_bytes, parse_tree, Item, Pos};

fn err(text: &str) -> String {
    match parse("c.conf", text) {
        Ok(p) => panic!("expected an error, parsed {:?}", p.config),
        Err(e) => e.to_string(),
    }
}

#[test]
fn tree_keeps_order_and_positions() {
    let d = parse_tree(
        "c.conf",
        "# c\ntotem {\n\tversion: 2\n  interface {\n    mcastport: 5405\n  }\n}\n",
    )
    .expect("parses");
    let totem = d.root.sections().next().expect("totem");
    assert_eq!(totem.name, "totem");
    assert_eq!(totem.pos, Pos::new(2, 1));
    match &totem.items[0] {
        Item::Entry(e) => {
            assert_eq!((e.key.as_str(), e.value.as_str()), ("version", "2"));
            assert_eq!(e.key_pos, Pos::new(3, 2));
            assert_eq!(e.value_pos, Pos::new(3, 11));
        }
        Item::Section(_) => panic!("entry expected"),
    }
    let iface = totem.sections().next().expect("interface");
    assert_eq!(iface.pos, Pos::new(4, 3));
    assert_eq!(
        iface.get("mcastport").map(|e| e.value.as_str()),
        Some("5405")
    );
}

#[test]
fn colon_in_value_and_section_colon() {
    let d = parse_tree("c", "nodelist: {\n node {\n  ring0_addr: fe80::1\n }\n}\n").expect("ok");
    let n = d.root.sections().next().expect("nodelist");
    assert_eq!(n.name, "nodelist");
    let node = n.sections().next().expect("node");
    assert_eq!(
        node.get("ring0_addr").map(|e| e.value.as_str()),
        Some("fe80::1")
    );
}

#[test]
fn crlf_and_no_final_newline() {
    let p = parse("c", "totem {\r\n  token: 1000\r\n}").expect("ok");
    assert_eq!(p.config.totem.token, Some(1000));
}

#[test]
fn trailing_comment_is_part_of_the_value() {
    let e = err("totem {\n  token: 3000 # ms\n}\n");
    assert!(
        e.starts_with(
            "c.conf:2:10: expected an integer in range (0..4294967295) for key \"totem.token\""
        ),
        "{e}"
    );
}

#[test]
fn syntax_errors_have_positions() {
    assert_eq!(
        err("totem {\n  token 3000\n}\n"),
        "c.conf:2:3: expected a section opening 'name {', a closing '}' or a 'key: value' line"
    );
    assert!(err("totem {\n  token: 1\n")
        .starts_with("c.conf:2:1: expected closing brace '}' for section 'totem' opened at 1:1"));
    assert!(err("}\n").starts_with("c.conf:1:1: expected a section to close"));
    assert!(err("  {\n}\n").starts_with("c.conf:1:3: expected a section name"));
    assert!(
        err("totem { x\n}\n").starts_with("c.conf:1:9: expected end of line after opening bracket")
    );
    assert!(err("totem {\n } x\n}\n").starts_with("c.conf:2:2: expected closing bracket '}' alone"));
    let long = format!("totem {{\n  cluster_name: {}\n}}\n", "x".repeat(600));
    assert!(err(&long).starts_with("c.conf:2:1: expected a line of at most 510 bytes"));
}

#[test]
fn value_errors() {
    assert!(err("totem {\n transport: tcp\n}\n")
        .starts_with("c.conf:2:13: expected one of udpu, udp, knet"));
    assert!(err("totem {\n interface {\n  mcastport: 70000\n }\n}\n").contains("(0..65535)"));
    assert!(err("quorum {\n two_node: yes\n}\n").contains("(0..255) for key \"quorum.two_node\""));
    assert!(err("logging {\n to_stderr: maybe\n}\n").contains("yes, no, on, off"));
    assert!(err("logging {\n logger_subsys {\n  debug: on\n }\n}\n").contains("subsys"));
    assert!(err("totem {\n crypto_cipher: aes256\n}\n").contains("crypto_hash"));
    assert!(err("totem {\n crypto_hash: sha2\n}\n").contains("sha512"));
    assert!(err("quorum {\n provider: other\n}\n").contains("corosync_votequorum"));
    assert!(err("uidgid {\n user: x\n}\n").contains("uid or gid"));
}

#[test]
fn unknown_keys_warn_with_line() {
    let p = parse("c.conf", "totem {\n  tokn: 3000\n}\nfoo {\n}\n").expect("ok");
    let w: Vec<String> = p.warnings.iter().map(|w| w.to_string()).collect();
    assert_eq!(w.len(), 2, "{w:?}");
    assert!(w[0].starts_with("c.conf:2: unknown key \"totem.tokn\""));
    assert!(w[1].starts_with("c.conf:4: unknown section \"foo\""));
}

#[test]
fn last_value_wins_and_plus_sign() {
    let p = parse("c", "totem {\n token: 1\n token: +2\n}\n").expect("ok");
    assert_eq!(p.config.totem.token, Some(2));
}

#[test]
fn invalid_utf8_is_positioned() {
    let e = parse_bytes("c", b"totem {\n  cluster_name: a\xff\n}\n").expect_err("bad utf8");
    assert_eq!(e.pos, Pos::new(2, 18));
}
