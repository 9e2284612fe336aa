#![allow(dead_code)]

use std::time::Duration;

pub fn s(x: u64) -> Duration {
    Duration::from_secs(x)
}

/// Three nodes, stonith off; a VIP colocated with and ordered after a
/// cloned systemd:haproxy, and a Dummy with migration-threshold=2.
pub fn cib(no_quorum_policy: &str) -> String {
    cib_with(no_quorum_policy, false)
}

/// The same with fencing enabled or not.
pub fn cib_with(no_quorum_policy: &str, stonith: bool) -> String {
    let device = if stonith {
        r#"<primitive id="fence-pdu" class="stonith" type="fence_apc_snmp"/>"#
    } else {
        ""
    };
    format!(
        r#"<cib admin_epoch="0" epoch="1" num_updates="0" validate-with="pacemaker-3.7">
  <configuration>
    <crm_config><cluster_property_set id="cib-bootstrap-options">
      <nvpair id="o1" name="stonith-enabled" value="{stonith}"/>
      <nvpair id="o2" name="no-quorum-policy" value="{no_quorum_policy}"/>
      <nvpair id="o3" name="cluster-recheck-interval" value="15min"/>
    </cluster_property_set></crm_config>
    <nodes><node id="1" uname="node1"/><node id="2" uname="node2"/><node id="3" uname="node3"/></nodes>
    <resources>
      {device}
      <primitive id="vip" class="ocf" provider="heartbeat" type="IPaddr2">
        <instance_attributes id="vip-i"><nvpair id="vip-ip" name="ip" value="10.0.0.100"/><nvpair id="vip-nic" name="nic" value="eth0"/></instance_attributes>
        <operations><op id="vip-mon" name="monitor" interval="10s" timeout="20s"/></operations>
      </primitive>
      <clone id="haproxy-clone"><primitive id="haproxy" class="systemd" type="haproxy">
        <operations><op id="hap-mon" name="monitor" interval="10s" timeout="100s"/></operations></primitive></clone>
      <primitive id="d" class="ocf" provider="pacemaker" type="Dummy">
        <meta_attributes id="d-m"><nvpair id="d-mt" name="migration-threshold" value="2"/><nvpair id="d-ft" name="failure-timeout" value="120s"/></meta_attributes>
        <operations><op id="d-mon" name="monitor" interval="10s" timeout="20s"/></operations>
      </primitive>
    </resources>
    <constraints>
      <rsc_colocation id="vip-with-haproxy" rsc="vip" with-rsc="haproxy-clone" score="INFINITY"/>
      <rsc_order id="haproxy-then-vip" first="haproxy-clone" then="vip" kind="Mandatory"/>
    </constraints>
  </configuration>
  <status/>
</cib>"#
    )
}
