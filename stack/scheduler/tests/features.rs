//! Small checks of scheduler features against what crm_simulate 2.1.5
//! printed for the same CIB (expected lines recorded from real runs).

fn two_node_cib(constraints: &str, extra_config: &str) -> String {
    format!(
        r#"<cib validate-with="pacemaker-3.7" epoch="1" num_updates="0" admin_epoch="0">
  <configuration>
    <crm_config><cluster_property_set id="opts">
      <nvpair id="opts-stonith" name="stonith-enabled" value="false"/>
      <nvpair id="opts-quorum" name="no-quorum-policy" value="ignore"/>
    </cluster_property_set></crm_config>
    <nodes><node id="1" uname="node1"/><node id="2" uname="node2"/></nodes>
    <resources>
      <primitive id="rsc0" class="ocf" provider="pacemaker" type="Dummy"/>
      <primitive id="rsc1" class="ocf" provider="pacemaker" type="Dummy"/>
    </resources>
    <constraints>{constraints}</constraints>{extra_config}
  </configuration>
  <status>
    <node_state id="1" uname="node1" in_ccm="true" crmd="online" join="member" expected="member"/>
    <node_state id="2" uname="node2" in_ccm="true" crmd="online" join="member" expected="member"/>
  </status>
</cib>"#
    )
}

#[test]
fn a_tag_in_a_location_applies_to_its_members() {
    let xml = two_node_cib(
        r#"<rsc_location id="l" rsc="t1" node="node1" score="-INFINITY"/>"#,
        r#"<tags><tag id="t1"><obj_ref id="rsc0"/></tag></tags>"#,
    );
    let mut got = hasim_conformance::hasim_summary(&xml).expect("scheduled");
    got.sort();
    // crm_simulate 2.1.5 on the same CIB.
    assert_eq!(got, vec!["Start rsc0 ( node2 )", "Start rsc1 ( node1 )"]);
}
