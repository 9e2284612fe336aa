//! Node attributes of Pacemaker Remote nodes: a remote node created for a
//! connection resource gets `#uname` and `#id` only when its status entry
//! is read (the connection known to be up). Until then two such nodes have
//! equal (missing) values, so a colocation with a resource on one of them
//! scores both. Expected lines recorded from crm_simulate 2.1.5.

/// Two remote nodes, rsc1 preferring remote1, rsc2 colocated with rsc1 at
/// 50 and kept off node1; `status` is the status section's content.
fn two_remotes(status: &str) -> String {
    format!(
        r#"<cib crm_feature_set="3.16.2" validate-with="pacemaker-3.7" epoch="1" num_updates="0" admin_epoch="0" have-quorum="1" dc-uuid="1">
  <configuration>
    <crm_config><cluster_property_set id="opts">
      <nvpair id="opts-stonith" name="stonith-enabled" value="false"/>
    </cluster_property_set></crm_config>
    <nodes><node id="1" uname="node1"/></nodes>
    <resources>
      <primitive id="remote1" class="ocf" provider="pacemaker" type="remote"/>
      <primitive id="remote2" class="ocf" provider="pacemaker" type="remote"/>
      <primitive id="rsc1" class="ocf" provider="pacemaker" type="Dummy"/>
      <primitive id="rsc2" class="ocf" provider="pacemaker" type="Dummy"/>
    </resources>
    <constraints>
      <rsc_location id="l1" rsc="rsc1" node="remote1" score="100"/>
      <rsc_location id="l2" rsc="rsc2" node="node1" score="-INFINITY"/>
      <rsc_colocation id="c1" rsc="rsc2" with-rsc="rsc1" score="50"/>
    </constraints>
  </configuration>
  <status>
    {status}
  </status>
</cib>"#
    )
}

fn summary(xml: &str) -> Vec<String> {
    let mut got = hasim_conformance::hasim_summary(xml).expect("scheduled");
    got.sort();
    got
}

#[test]
fn unseen_remote_nodes_match_each_other_in_a_colocation() {
    // Both remote nodes score 50 for rsc2; remote2 runs fewer resources.
    let xml = two_remotes(
        r#"<node_state id="1" uname="node1" in_ccm="true" crmd="online" join="member" expected="member"/>"#,
    );
    assert_eq!(
        summary(&xml),
        vec![
            "Start remote1 ( node1 )",
            "Start remote2 ( node1 )",
            "Start rsc1 ( remote1 )",
            "Start rsc2 ( remote2 )",
        ]
    );
}

#[test]
fn remote_nodes_whose_status_is_read_have_their_own_names() {
    let xml = two_remotes(
        r#"<node_state id="1" uname="node1" in_ccm="true" crmd="online" join="member" expected="member"><lrm id="1"><lrm_resources><lrm_resource id="remote1" class="ocf" provider="pacemaker" type="remote"><lrm_rsc_op id="remote1_start_0" operation_key="remote1_start_0" operation="start" transition-key="1:1:0:abcd" transition-magic="0:0;1:1:0:abcd" on_node="node1" call-id="1" rc-code="0" op-status="0" interval="0" op-digest="f2317cad3d54cec5d7d7aa7d0bf35cf8"/></lrm_resource><lrm_resource id="remote2" class="ocf" provider="pacemaker" type="remote"><lrm_rsc_op id="remote2_start_0" operation_key="remote2_start_0" operation="start" transition-key="2:1:0:abcd" transition-magic="0:0;2:1:0:abcd" on_node="node1" call-id="2" rc-code="0" op-status="0" interval="0" op-digest="f2317cad3d54cec5d7d7aa7d0bf35cf8"/></lrm_resource></lrm_resources></lrm></node_state><node_state id="remote1" uname="remote1" remote_node="true" in_ccm="true"/><node_state id="remote2" uname="remote2" remote_node="true" in_ccm="true"/>"#,
    );
    assert_eq!(
        summary(&xml),
        vec!["Start rsc1 ( remote1 )", "Start rsc2 ( remote1 )"]
    );
}
