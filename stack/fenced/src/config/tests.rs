use super::*;

pub(crate) const CIB: &str = r#"<cib admin_epoch="0" epoch="1" num_updates="0">
  <configuration>
    <crm_config>
      <cluster_property_set id="opts">
        <nvpair id="o1" name="stonith-timeout" value="30s"/>
        <nvpair id="o2" name="priority-fencing-delay" value="10"/>
        <nvpair id="o3" name="no-quorum-policy" value="ignore"/>
        <nvpair id="o4" name="stonith-action" value="off"/>
        <nvpair id="o5" name="stonith-max-attempts" value="0"/>
      </cluster_property_set>
    </crm_config>
    <nodes>
      <node id="1" uname="n1"/>
      <node id="2" uname="n2"/>
    </nodes>
    <resources>
      <primitive id="fence-n1" class="stonith" type="fence_ipmilan">
        <instance_attributes id="f1">
          <nvpair id="f1a" name="ip" value="10.0.9.1"/>
          <nvpair id="f1b" name="pcmk_host_list" value="n1"/>
          <nvpair id="f1c" name="pcmk_delay_max" value="15s"/>
          <nvpair id="f1d" name="pcmk_reboot_timeout" value="90"/>
          <nvpair id="f1e" name="pcmk_off_retries" value="3"/>
        </instance_attributes>
      </primitive>
      <primitive id="pdu" class="stonith" type="fence_apc_snmp">
        <instance_attributes id="p1">
          <nvpair id="p1a" name="ip" value="10.0.9.100"/>
          <nvpair id="p1b" name="pcmk_host_map" value="n1:1;n2:2"/>
          <nvpair id="p1c" name="pcmk_delay_base" value="n1:2s;n2:7"/>
        </instance_attributes>
      </primitive>
      <primitive id="vip" class="ocf" provider="heartbeat" type="IPaddr2"/>
    </resources>
    <constraints>
      <rsc_location id="l1" rsc="fence-n1" node="n1" score="-INFINITY"/>
    </constraints>
    <fencing-topology>
      <fencing-level id="t2" target="n1" index="2" devices="pdu"/>
      <fencing-level id="t1" target="n1" index="1" devices="fence-n1"/>
    </fencing-topology>
  </configuration>
  <status/>
</cib>"#;

fn parse(xml: &str) -> Result<FencingConfig, ConfigError> {
    FencingConfig::from_cib(&Cib::from_xml(xml).expect("test CIB parses"))
}

#[test]
fn options_devices_and_topology_are_read() {
    let cfg = parse(CIB).unwrap();
    assert_eq!(cfg.stonith_timeout, 30);
    assert_eq!(cfg.priority_fencing_delay, 10);
    assert_eq!(cfg.no_quorum_policy, NoQuorumPolicy::Ignore);
    assert_eq!(cfg.stonith_action, FenceAction::Off);
    assert_eq!(
        cfg.stonith_max_attempts, 10,
        "values below 1 fall back to 10"
    );
    assert_eq!(
        cfg.devices.len(),
        2,
        "the IPaddr2 primitive is not a device"
    );
    let f1 = cfg.device("fence-n1").unwrap();
    assert_eq!((f1.delay_max, f1.address.as_str()), (15, "10.0.9.1"));
    assert_eq!(f1.host_check, HostCheck::StaticList);
    assert_eq!(f1.action_timeouts.get(&FenceAction::Reboot), Some(&90));
    assert_eq!(
        (
            f1.retries_for(FenceAction::Off),
            f1.retries_for(FenceAction::Reboot)
        ),
        (3, 2)
    );
    assert!(f1.banned_on.contains("n1"));
    let pdu = cfg.device("pdu").unwrap();
    assert_eq!(
        (
            pdu.plug_for("n2"),
            pdu.delay_base.for_target("n2"),
            pdu.delay_base.for_target("n3")
        ),
        (2, 7, 0)
    );
    let levels = cfg.levels_for("n1");
    assert_eq!(
        levels.iter().map(|l| l.index).collect::<Vec<_>>(),
        vec![1, 2]
    );
    assert!(cfg.levels_for("n2").is_empty());
}

#[test]
fn can_fence_follows_host_lists_bans_and_never_self() {
    let cfg = parse(CIB).unwrap();
    let f1 = cfg.device("fence-n1").unwrap();
    assert!(f1.can_fence("n2", "n1"));
    assert!(!f1.can_fence("n2", "n2"), "not in pcmk_host_list");
    assert!(!f1.can_fence("n1", "n1"), "banned and self");
    let pdu = cfg.device("pdu").unwrap();
    assert!(pdu.can_fence("n1", "n2") && !pdu.can_fence("n2", "n2"));
    let mut open = f1.clone();
    open.host_list.clear();
    open.host_check = HostCheck::Status;
    assert!(
        open.can_fence("n2", "n3"),
        "a port-less agent checked by status claims any target"
    );
}

#[test]
fn bad_values_are_errors_naming_what_and_where() {
    let e = parse(&CIB.replace(r#"value="15s""#, r#"value="soon""#)).unwrap_err();
    assert!(
        e.to_string().contains("stonith resource 'fence-n1'")
            && e.to_string().contains("pcmk_delay_max"),
        "{e}"
    );
    let e = parse(&CIB.replace(r#"devices="pdu""#, r#"devices="pdux""#)).unwrap_err();
    assert!(e.line.is_some() && e.message.contains("pdux"), "{e}");
    let e = parse(&CIB.replace(r#"value="n1:1;n2:2""#, r#"value="n1:one""#)).unwrap_err();
    assert!(e.message.contains("outlet number"), "{e}");
    let e = parse(&CIB.replace(r#"value="30s""#, r#"value="-""#)).unwrap_err();
    assert!(e.what.contains("stonith-timeout"), "{e}");
}
