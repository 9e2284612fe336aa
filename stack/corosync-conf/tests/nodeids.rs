//! Nodeids corosync refuses: duplicates and 0.

use hasim_corosync_conf::parse;

fn conf(ids: &[&str]) -> String {
    let mut text = String::from("totem {\n version: 2\n cluster_name: t\n}\nnodelist {\n");
    for (i, id) in ids.iter().enumerate() {
        text += &format!(
            " node {{\n  ring0_addr: 10.0.0.{}\n  nodeid: {id}\n }}\n",
            i + 1
        );
    }
    text + "}\n"
}

#[test]
fn distinct_nodeids_parse() {
    let parsed = parse("ok.conf", &conf(&["1", "2", "3"])).unwrap();
    assert_eq!(parsed.config.nodelist.len(), 3);
}

#[test]
fn duplicate_nodeid_is_refused_at_the_second_node() {
    let e = parse("dup.conf", &conf(&["1", "2", "1"])).unwrap_err();
    assert_eq!(e.file, "dup.conf");
    // The third node's `node {` header is on line 14.
    assert_eq!(e.pos.line, 14, "{e}");
    assert!(e.expected.contains("Nodeid 1 appears twice"), "{e}");
    assert!(e.expected.contains("line 6"), "{e}");
}

#[test]
fn nodeid_zero_is_refused_at_its_value() {
    let e = parse("zero.conf", &conf(&["1", "0"])).unwrap_err();
    assert_eq!((e.pos.line, e.pos.column), (12, 11), "{e}");
    assert!(e.expected.contains("expected a nodeid from 1"), "{e}");
}
