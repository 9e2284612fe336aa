//! CIBs Pacemaker refuses are refused with Pacemaker-like messages, and an
//! ordering loop is reported as crm_simulate reports it (issue 13).

use hasim_scheduler::simulate::simulate;

fn cib(constraints: &str) -> String {
    format!(
        r#"<cib validate-with="pacemaker-3.7" epoch="1" num_updates="0" admin_epoch="0">
  <configuration>
    <crm_config><cluster_property_set id="opts">
      <nvpair id="opts-stonith" name="stonith-enabled" value="false"/>
      <nvpair id="opts-quorum" name="no-quorum-policy" value="ignore"/>
    </cluster_property_set></crm_config>
    <nodes><node id="1" uname="node1"/></nodes>
    <resources>
      <primitive id="rsc0" class="ocf" provider="pacemaker" type="Dummy"/>
      <primitive id="rsc1" class="ocf" provider="pacemaker" type="Dummy"/>
    </resources>
    <constraints>{constraints}</constraints>
  </configuration>
  <status><node_state id="1" uname="node1" in_ccm="true" crmd="online" join="member" expected="member"/></status>
</cib>"#
    )
}

fn refused(xml: &str) -> String {
    simulate(xml).expect_err("must be refused").to_string()
}

#[test]
fn invalid_score_is_refused() {
    let err = refused(&cib(
        r#"<rsc_location id="l" rsc="rsc0" node="node1" score="INFINITYX"/>"#,
    ));
    assert!(err.contains("line 12"), "{err}");
    assert!(err.contains("invalid score 'INFINITYX'"), "{err}");
}

#[test]
fn constraint_naming_a_missing_resource_is_refused() {
    let err = refused(&cib(
        r#"<rsc_colocation id="c" rsc="rsc0" with-rsc="nosuch" score="INFINITY"/>"#,
    ));
    assert!(
        err.contains("IDREF attribute with-rsc references an unknown ID \"nosuch\""),
        "{err}"
    );
}

#[test]
fn duplicate_resource_id_is_refused() {
    let xml = cib("").replace("id=\"rsc1\"", "id=\"rsc0\"");
    assert!(refused(&xml).contains("ID rsc0 redefined"));
}

#[test]
fn ordering_loop_is_an_invalid_transition() {
    let ok = simulate(&cib("")).expect("valid");
    assert!(ok.completed);
    assert!(ok.errors.is_empty());
    let looped = simulate(&cib(
        r#"<rsc_order id="o1" first="rsc0" then="rsc1"/><rsc_order id="o2" first="rsc1" then="rsc0"/>"#,
    ))
    .expect("scheduled");
    assert!(!looped.completed);
    // crm_simulate 2.1.5 prints the report on standard error, not in the
    // status output.
    assert_eq!(
        looped.errors,
        "Transition failed: terminated\nAn invalid transition was produced\n"
    );
    assert!(!looped.output.contains("Transition failed"));
    // As in crm_simulate: the probes run, neither start can (each waits
    // for the other).
    assert!(looped.output.contains("rsc0            monitor on node1"));
    assert!(
        !looped.output.contains("start on node1"),
        "{}",
        looped.output
    );
    // The starts never ran, so the revised status still has both stopped
    // (as crm_simulate's does), not started.
    let revised = looped
        .output
        .split("Revised Cluster Status:")
        .nth(1)
        .expect("revised status");
    assert!(
        revised.contains("rsc0\t(ocf:pacemaker:Dummy):\t Stopped"),
        "{revised}"
    );
    assert!(
        revised.contains("rsc1\t(ocf:pacemaker:Dummy):\t Stopped"),
        "{revised}"
    );
}

#[test]
fn deeply_nested_groups_are_refused_without_overflow() {
    let depth = 10_000;
    let groups = (0..depth)
        .map(|i| format!("<group id=\"g{i}\">"))
        .collect::<String>()
        + &"</group>".repeat(depth);
    let xml = cib("").replace("<resources>", &format!("<resources>{groups}"));
    assert!(refused(&xml).contains("excessive depth"));
}
