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

#[test]
fn a_promoted_monitor_failing_with_on_fail_demote_re_promotes_the_best_instance() {
    // The failed instance stays the best promotion candidate: Pacemaker
    // demotes it (required by the failure) and promotes it again.
    let xml = r#"<cib validate-with="pacemaker-3.7" epoch="1" num_updates="0" admin_epoch="0" have-quorum="1">
  <configuration>
    <crm_config><cluster_property_set id="opts">
      <nvpair id="opts-stonith" name="stonith-enabled" value="false"/>
    </cluster_property_set></crm_config>
    <nodes><node id="1" uname="node1"/><node id="2" uname="node2"/></nodes>
    <resources>
      <clone id="ms">
        <meta_attributes id="ms-meta"><nvpair id="ms-p" name="promotable" value="true"/><nvpair id="ms-pm" name="promoted-max" value="1"/></meta_attributes>
        <primitive id="st" class="ocf" provider="pacemaker" type="Stateful">
          <operations>
            <op id="st-mon-p" name="monitor" interval="10s" role="Promoted" on-fail="demote"/>
            <op id="st-mon-u" name="monitor" interval="11s" role="Unpromoted"/>
          </operations>
        </primitive>
      </clone>
    </resources>
    <constraints/>
  </configuration>
  <status>
    <node_state id="1" uname="node1" in_ccm="true" crmd="online" join="member" expected="member">
      <transient_attributes id="1"><instance_attributes id="s1">
        <nvpair id="s1-m" name="master-st" value="10"/>
        <nvpair id="s1-fc" name="fail-count-st#monitor_10000" value="1"/>
      </instance_attributes></transient_attributes>
      <lrm id="1"><lrm_resources><lrm_resource id="st" class="ocf" provider="pacemaker" type="Stateful">
        <lrm_rsc_op id="st_last_0" operation_key="st_promote_0" operation="promote" transition-key="1:1:0:x" transition-magic="0:0;1:1:0:x" call-id="2" rc-code="0" op-status="0" interval="0" op-digest="f2317cad3d54cec5d7d7aa7d0bf35cf8"/>
        <lrm_rsc_op id="st_monitor_10000" operation_key="st_monitor_10000" operation="monitor" transition-key="2:1:8:x" transition-magic="0:1;2:1:8:x" call-id="3" rc-code="1" op-status="0" interval="10000" op-digest="f2317cad3d54cec5d7d7aa7d0bf35cf8"/>
      </lrm_resource></lrm_resources></lrm>
    </node_state>
    <node_state id="2" uname="node2" in_ccm="true" crmd="online" join="member" expected="member">
      <transient_attributes id="2"><instance_attributes id="s2">
        <nvpair id="s2-m" name="master-st" value="5"/>
      </instance_attributes></transient_attributes>
      <lrm id="2"><lrm_resources><lrm_resource id="st" class="ocf" provider="pacemaker" type="Stateful">
        <lrm_rsc_op id="st2_last_0" operation_key="st_start_0" operation="start" transition-key="3:1:0:x" transition-magic="0:0;3:1:0:x" call-id="2" rc-code="0" op-status="0" interval="0" op-digest="f2317cad3d54cec5d7d7aa7d0bf35cf8"/>
      </lrm_resource></lrm_resources></lrm>
    </node_state>
  </status>
</cib>"#;
    let got = hasim_conformance::hasim_summary(xml).expect("scheduled");
    // crm_simulate 2.1.5 on the same CIB.
    assert_eq!(got, vec!["Re-promote st:0 ( Promoted node1 )"]);
}

#[test]
fn have_watchdog_counts_as_a_fencing_device() {
    // Fencing enabled without any stonith resource leaves resources
    // unmanaged, unless watchdog self-fencing (SBD) is available.
    let xml = r#"<cib validate-with="pacemaker-3.7" epoch="1" num_updates="0" admin_epoch="0" have-quorum="1">
  <configuration>
    <crm_config><cluster_property_set id="opts">
      <nvpair id="opts-wd" name="have-watchdog" value="true"/>
    </cluster_property_set></crm_config>
    <nodes><node id="1" uname="node1"/></nodes>
    <resources>
      <primitive id="rsc0" class="ocf" provider="pacemaker" type="Dummy"/>
    </resources>
    <constraints/>
  </configuration>
  <status>
    <node_state id="1" uname="node1" in_ccm="true" crmd="online" join="member" expected="member"/>
  </status>
</cib>"#;
    let got = hasim_conformance::hasim_summary(xml).expect("scheduled");
    // crm_simulate 2.1.5 on the same CIB (without have-watchdog: nothing).
    assert_eq!(got, vec!["Start rsc0 ( node1 )"]);
    let without = xml.replace(r#"value="true""#, r#"value="false""#);
    let got = hasim_conformance::hasim_summary(&without).expect("scheduled");
    assert!(got.is_empty(), "{got:?}");
}
