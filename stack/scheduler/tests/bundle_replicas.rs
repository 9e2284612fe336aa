//! Bundle replicas whose nodes cannot run anything: each replica's child
//! is still placed on its own replica's node (its allowed nodes are that
//! node alone), its start blocked; a bundle node exists only from the
//! bundle's unpacking on. Expected lines recorded from crm_simulate 2.1.5
//! on the same CIBs.

#[test]
fn every_replica_child_is_placed_on_its_own_replica_when_no_node_is_up() {
    // Both cluster nodes are down, so no container can start; with
    // placement-strategy=minimal equal nodes sort by name only, so a child
    // allowed on other bundle nodes (at -INFINITY) would pick bundle1-0.
    let xml = r#"<cib crm_feature_set="3.16.2" validate-with="pacemaker-3.7" epoch="1" num_updates="0" admin_epoch="0" have-quorum="1" dc-uuid="1">
  <configuration>
    <crm_config><cluster_property_set id="opts">
      <nvpair id="opts-stonith" name="stonith-enabled" value="false"/>
      <nvpair id="opts-placement" name="placement-strategy" value="minimal"/>
    </cluster_property_set></crm_config>
    <nodes><node id="1" uname="node1"/><node id="2" uname="node2"/></nodes>
    <resources>
      <bundle id="bundle1"><podman image="pcmktest:latest" replicas="2"/><network control-port="3122"/><primitive id="bdummy1" class="ocf" provider="pacemaker" type="Dummy"/></bundle>
    </resources>
    <constraints/>
  </configuration>
  <status>
    <node_state id="1" uname="node1" in_ccm="false" crmd="offline" join="down" expected="down"/>
    <node_state id="2" uname="node2" in_ccm="false" crmd="offline" join="down" expected="down"/>
  </status>
</cib>"#;
    let mut got = hasim_conformance::hasim_summary(xml).expect("scheduled");
    got.sort();
    assert_eq!(
        got,
        vec![
            "Start bdummy1:0 ( bundle1-0 ) due to unrunnable bundle1-0 start (blocked)",
            "Start bdummy1:1 ( bundle1-1 ) due to unrunnable bundle1-1 start (blocked)",
        ]
    );
}

#[test]
fn resources_configured_before_a_bundle_never_consider_its_nodes() {
    // node1 is down: every node sorts as unavailable, so by name. rsc1
    // (before the bundle) does not know bundle1-0 and takes guest1 (a
    // guest node is assumed to come up); rsc2 (after it) has bundle1-0 at
    // -INFINITY first and stays stopped.
    let xml = r#"<cib crm_feature_set="3.16.2" validate-with="pacemaker-3.7" epoch="1" num_updates="0" admin_epoch="0" have-quorum="1" dc-uuid="1">
  <configuration>
    <crm_config><cluster_property_set id="opts">
      <nvpair id="opts-stonith" name="stonith-enabled" value="false"/>
    </cluster_property_set></crm_config>
    <nodes><node id="1" uname="node1"/></nodes>
    <resources>
      <primitive id="rsc1" class="ocf" provider="pacemaker" type="Dummy"/>
      <primitive id="vm1" class="ocf" provider="pacemaker" type="Dummy">
        <meta_attributes id="vm1-meta"><nvpair id="vm1-rn" name="remote-node" value="guest1"/></meta_attributes>
      </primitive>
      <bundle id="bundle1"><podman image="pcmktest:latest" replicas="1"/><network control-port="3122"/><primitive id="bdummy1" class="ocf" provider="pacemaker" type="Dummy"/></bundle>
      <primitive id="rsc2" class="ocf" provider="pacemaker" type="Dummy"/>
    </resources>
    <constraints/>
  </configuration>
  <status>
    <node_state id="1" uname="node1" in_ccm="false" crmd="offline" join="down" expected="down"/>
  </status>
</cib>"#;
    let mut got = hasim_conformance::hasim_summary(xml).expect("scheduled");
    got.sort();
    assert_eq!(
        got,
        vec![
            "Start bdummy1:0 ( bundle1-0 ) due to unrunnable bundle1-0 start (blocked)",
            "Start rsc1 ( guest1 ) due to unrunnable guest1 start (blocked)",
        ]
    );
}
