//! Assignment to a guest node whose container cannot run: Pacemaker lets
//! the graph assume a guest node's connection comes up
//! (pcmk__finalize_assignment accepts an unavailable guest node), so the
//! resource is placed there and its start blocked. Expected lines recorded
//! from crm_simulate 2.1.5 on the same CIB.

#[test]
fn a_resource_preferring_a_guest_whose_container_cannot_run_is_blocked_there() {
    // Opt-in cluster: vm1 (guest1's container) may run nowhere.
    let xml = r#"<cib crm_feature_set="3.16.2" validate-with="pacemaker-3.7" epoch="1" num_updates="0" admin_epoch="0" have-quorum="1" dc-uuid="1">
  <configuration>
    <crm_config><cluster_property_set id="opts">
      <nvpair id="opts-stonith" name="stonith-enabled" value="false"/>
      <nvpair id="opts-symmetric" name="symmetric-cluster" value="false"/>
    </cluster_property_set></crm_config>
    <nodes><node id="1" uname="node1"/></nodes>
    <resources>
      <primitive id="vm1" class="ocf" provider="pacemaker" type="Dummy">
        <meta_attributes id="vm1-meta"><nvpair id="vm1-rn" name="remote-node" value="guest1"/></meta_attributes>
      </primitive>
      <primitive id="rsc1" class="ocf" provider="pacemaker" type="Dummy"/>
    </resources>
    <constraints>
      <rsc_location id="l1" rsc="rsc1" node="guest1" score="100"/>
    </constraints>
  </configuration>
  <status>
    <node_state id="1" uname="node1" in_ccm="true" crmd="online" join="member" expected="member"/>
  </status>
</cib>"#;
    let got = hasim_conformance::hasim_summary(xml).expect("scheduled");
    assert_eq!(
        got,
        vec!["Start rsc1 ( guest1 ) due to unrunnable guest1 start (blocked)"]
    );
}
