use hasim_cib::{Constraint, ResourceKind};
use hasim_crmsh::{parse, to_cib_xml};

const CONFIG: &str = r#"
node 1: node1 attributes standby=off
node node2
property stonith-enabled=false no-quorum-policy=stop
rsc_defaults resource-stickiness=100 migration-threshold=3
op_defaults timeout=30s
primitive vip ocf:heartbeat:IPaddr2 \
    params ip=10.0.0.9 nic="br ex" \
    op monitor interval=10s timeout=20s \
    meta target-role=Started
primitive hap systemd:haproxy op monitor interval=20
primitive st ocf:pacemaker:Stateful
primitive a ocf:pacemaker:Dummy
primitive b ocf:pacemaker:Dummy
group g a b meta target-role=Started
clone hap-clone hap meta interleave=true
ms st-ms st meta notify=true
colocation vip-with-hap inf: vip hap-clone
colocation vip-with-master inf: vip st-ms:Master
order hap-then-vip Mandatory: hap-clone vip:start symmetrical=false
order g-after -100: vip g
location prefer-1 vip 50: node1
location never-st st-ms role=Master -inf: node2
"#;

#[test]
fn every_statement_kind_lands_in_the_model() {
    let cib = parse(CONFIG).unwrap();
    assert_eq!(cib.nodes.len(), 2);
    assert_eq!(cib.nodes[0].uname, "node1");
    assert_eq!(cib.resources.len(), 4, "vip, g, hap-clone, st-ms");
    let kinds: Vec<&str> = cib
        .resources
        .iter()
        .map(|r| match &r.kind {
            ResourceKind::Primitive { .. } => "primitive",
            ResourceKind::Group { .. } => "group",
            ResourceKind::Clone {
                legacy_master: true,
                ..
            } => "ms",
            ResourceKind::Clone { .. } => "clone",
            _ => "other",
        })
        .collect();
    assert_eq!(kinds, ["primitive", "group", "clone", "ms"]);
    let vip = &cib.resources[0];
    assert_eq!(vip.ops[0].attr("id"), Some("vip-monitor-10s"));
    let xml = to_cib_xml(CONFIG).unwrap();
    assert!(xml.contains(r#"name="nic" value="br ex""#), "{xml}");
    assert_eq!(cib.constraints.len(), 6);
    let order = cib
        .constraints
        .iter()
        .find(|c| c.attr("id") == Some("hap-then-vip"))
        .unwrap();
    assert!(matches!(order, Constraint::Order { .. }));
    assert_eq!(order.attr("kind"), Some("Mandatory"));
    assert_eq!(order.attr("then-action"), Some("start"));
    let coloc = cib
        .constraints
        .iter()
        .find(|c| c.attr("id") == Some("vip-with-master"))
        .unwrap();
    assert_eq!(coloc.attr("with-rsc-role"), Some("Master"));
    assert_eq!(coloc.attr("score"), Some("INFINITY"));
    let loc = cib
        .constraints
        .iter()
        .find(|c| c.attr("id") == Some("never-st"))
        .unwrap();
    assert_eq!(
        (loc.attr("score"), loc.attr("role")),
        (Some("-INFINITY"), Some("Master"))
    );
    assert_eq!(cib.rsc_defaults.len(), 1);
    assert_eq!(cib.op_defaults[0].nvpairs[0].name, "timeout");
    assert_eq!(cib.crm_config[0].nvpairs.len(), 2);
    // The scheduler accepts it (no node is online yet: nothing placed).
    let graph = hasim_scheduler::schedule(&cib);
    assert!(graph
        .placements()
        .iter()
        .any(|p| p.resource == "vip" && p.node.is_none()));
}

#[test]
fn errors_name_the_line_and_what_was_expected() {
    let cases = [
        ("\n\nprimitive p\n", 3, "expected: primitive ID AGENT"),
        ("primitive p ocf:Dummy\n", 1, "expected an agent"),
        ("primitive p ocf:x:y params a\n", 1, "expected name=value"),
        (
            "clone c missing\n",
            1,
            "expected a resource defined earlier",
        ),
        (
            "primitive p ocf:x:y\n\ncolocation c inf p\n",
            3,
            "score ending in ':'",
        ),
        ("colocation c inf: a b c\n", 1, "exactly two resources"),
        ("bogus x\n", 1, "expected primitive, clone"),
        (
            "primitive p ocf:x:y \\\n  params a=\"1\n",
            1,
            "unterminated quote",
        ),
    ];
    for (text, line, what) in cases {
        let e = parse(text).unwrap_err();
        assert_eq!(e.line, line, "{text:?}: {e}");
        assert!(e.message.contains(what), "{text:?}: {e}");
    }
}
