//! Which reason Pacemaker gives for fencing a remote node whose connection
//! cannot be recovered: the first action met on the node names it, and
//! Pacemaker meets the newest action first. Expected lines recorded from
//! crm_simulate 2.1.5 on the same CIBs.

/// node2 (hosting remote1's connection) is lost, remote1's connection may
/// not run on node1, rsc1 runs on remote1 (its monitor failed when
/// `failed_monitor`), rsc2 has never been probed there.
fn remote_behind_lost_host(failed_monitor: bool) -> String {
    let rsc1_monitor = if failed_monitor {
        r#"<lrm_rsc_op id="rsc1_monitor_10000" operation_key="rsc1_monitor_10000" operation="monitor" transition-key="4:1:0:abcd" transition-magic="0:1;4:1:0:abcd" on_node="remote1" call-id="4" rc-code="1" op-status="0" interval="10000" last-rc-change="1600000000" op-digest="f2317cad3d54cec5d7d7aa7d0bf35cf8"/>"#
    } else {
        ""
    };
    format!(
        r#"<cib crm_feature_set="3.16.2" validate-with="pacemaker-3.7" epoch="1" num_updates="0" admin_epoch="0" have-quorum="1" dc-uuid="1" execution-date="1600000100">
  <configuration>
    <crm_config><cluster_property_set id="opts">
      <nvpair id="opts-stonith" name="stonith-enabled" value="true"/>
    </cluster_property_set></crm_config>
    <nodes><node id="1" uname="node1"/><node id="2" uname="node2"/></nodes>
    <resources>
      <primitive id="Fencing" class="stonith" type="fence_dummy"/>
      <primitive id="remote1" class="ocf" provider="pacemaker" type="remote"/>
      <primitive id="rsc1" class="ocf" provider="pacemaker" type="Dummy"/>
      <primitive id="rsc2" class="ocf" provider="pacemaker" type="Dummy"/>
    </resources>
    <constraints><rsc_location id="l-remote" rsc="remote1" node="node1" score="-INFINITY"/></constraints>
  </configuration>
  <status>
    <node_state id="1" uname="node1" in_ccm="true" crmd="online" join="member" expected="member">
      <lrm id="1"><lrm_resources>
        <lrm_resource id="Fencing" class="stonith" type="fence_dummy"><lrm_rsc_op id="Fencing_start_0" operation_key="Fencing_start_0" operation="start" transition-key="1:1:0:abcd" transition-magic="0:0;1:1:0:abcd" on_node="node1" call-id="1" rc-code="0" op-status="0" interval="0" last-rc-change="1600000000" op-digest="f2317cad3d54cec5d7d7aa7d0bf35cf8"/></lrm_resource>
      </lrm_resources></lrm>
    </node_state>
    <node_state id="2" uname="node2" in_ccm="false" crmd="offline" join="member" expected="member">
      <lrm id="2"><lrm_resources>
        <lrm_resource id="remote1" class="ocf" provider="pacemaker" type="remote"><lrm_rsc_op id="remote1_start_0" operation_key="remote1_start_0" operation="start" transition-key="2:1:0:abcd" transition-magic="0:0;2:1:0:abcd" on_node="node2" call-id="2" rc-code="0" op-status="0" interval="0" last-rc-change="1600000000" op-digest="f2317cad3d54cec5d7d7aa7d0bf35cf8"/></lrm_resource>
      </lrm_resources></lrm>
    </node_state>
    <node_state id="remote1" uname="remote1" remote_node="true" in_ccm="true">
      <lrm id="remote1"><lrm_resources>
        <lrm_resource id="rsc1" class="ocf" provider="pacemaker" type="Dummy"><lrm_rsc_op id="rsc1_start_0" operation_key="rsc1_start_0" operation="start" transition-key="3:1:0:abcd" transition-magic="0:0;3:1:0:abcd" on_node="remote1" call-id="3" rc-code="0" op-status="0" interval="0" last-rc-change="1600000000" op-digest="f2317cad3d54cec5d7d7aa7d0bf35cf8"/>{rsc1_monitor}</lrm_resource>
      </lrm_resources></lrm>
    </node_state>
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
fn an_active_resource_names_the_fencing_when_its_stop_is_the_newest_action() {
    // The stop of rsc1 is created after the probe of rsc2 on remote1.
    assert_eq!(
        summary(&remote_behind_lost_host(false)),
        vec![
            "Fence (reboot) node2 'peer is no longer part of the cluster'",
            "Fence (reboot) remote1 'resources are active but connection is unrecoverable'",
            "Move rsc1 ( remote1 -> node1 )",
            "Start rsc2 ( node1 )",
            "Stop remote1 ( node2 ) due to node availability",
        ]
    );
}

#[test]
fn a_failed_resource_stop_is_older_than_the_probes() {
    // The failed monitor makes Pacemaker create rsc1's stop while unpacking,
    // before the probe of rsc2, so the probe names the fencing.
    assert_eq!(
        summary(&remote_behind_lost_host(true)),
        vec![
            "Fence (reboot) node2 'peer is no longer part of the cluster'",
            "Fence (reboot) remote1 'resources are in unknown state and connection is unrecoverable'",
            "Recover rsc1 ( remote1 -> node1 )",
            "Start rsc2 ( node1 )",
            "Stop remote1 ( node2 ) due to node availability",
        ]
    );
}
