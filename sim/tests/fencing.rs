//! Fencing scenarios, checked through their traces: who requested what with
//! which delay, and which machines fencing powered off.
#![cfg(madsim)]

mod common;

use common::SharedBuf;
use hasim::world;
use serde_json::Value;

fn trace(name: &str, seed: u64) -> Vec<Value> {
    common::json_trace(name, seed)
}

/// Machines a power device switched off, in order.
fn fenced_machines(trace: &[Value]) -> Vec<String> {
    trace
        .iter()
        .filter(|e| e["event"] == "device-power" && e["on"] == false)
        .map(|e| e["machine"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// (requesting DC, target, delay) of every fence request.
fn fence_requests(trace: &[Value]) -> Vec<(String, String, u64)> {
    trace
        .iter()
        .filter(|e| e["kind"] == "pacemaker" && e["report"]["event"] == "fence_requested")
        .map(|e| {
            let r = &e["report"];
            (
                r["dc"].as_str().unwrap_or_default().to_string(),
                r["target"].as_str().unwrap_or_default().to_string(),
                r["delay"].as_u64().unwrap_or(0),
            )
        })
        .collect()
}

/// priority-fencing-delay: beta's scheduler asks for alpha (the node with
/// the priority-10 VIP) to be fenced after 20 s, alpha asks for beta with
/// no delay, so alpha fences beta first and is never powered off. Without
/// the delay the same split ends with alpha (or both) off in most seeds
/// (pacemaker-two-node-fence-race).
#[test]
fn the_node_running_the_higher_priority_resource_survives_the_race() {
    for seed in 1..=8 {
        let t = trace("pacemaker-two-node-fence-race-priority.toml", seed);
        let fenced = fenced_machines(&t);
        assert!(
            fenced.contains(&"beta".to_string()),
            "seed {seed}: {fenced:?}"
        );
        assert!(
            !fenced.contains(&"alpha".to_string()),
            "seed {seed}: {fenced:?}"
        );
        let requests = fence_requests(&t);
        assert!(
            requests.contains(&("beta".into(), "alpha".into(), 20)),
            "seed {seed}: {requests:?}"
        );
        assert!(
            requests.iter().all(|r| r.1 != "beta" || r.2 == 0),
            "seed {seed}: {requests:?}"
        );
    }
}

/// The same split without priority-fencing-delay carries no delay and
/// powers alpha off in some of the same seeds: the delay is what decides.
#[test]
fn without_the_delay_requests_carry_none_and_alpha_can_lose() {
    let mut alpha_off = 0;
    for seed in 1..=8 {
        let t = trace("pacemaker-two-node-fence-race.toml", seed);
        assert!(fence_requests(&t).iter().all(|r| r.2 == 0));
        alpha_off += usize::from(fenced_machines(&t).contains(&"alpha".to_string()));
    }
    assert!(alpha_off > 0, "alpha survived every seed without the delay");
}

/// stonith-max-attempts: with the management network cut every fencing of
/// node1 fails; the DC stops after the default 10 failures, reports it
/// (`fence_give_up`), and requests nothing more, so the VIP stays blocked.
#[test]
fn fencing_stops_at_stonith_max_attempts_when_the_bmcs_are_unreachable() {
    let t = trace("pacemaker-mgmt-network-partition.toml", 1);
    let pcmk = |what: &str| -> Vec<(u64, Value)> {
        t.iter()
            .filter(|e| e["kind"] == "pacemaker" && e["report"]["event"] == what)
            .map(|e| (e["t_us"].as_u64().unwrap_or(0), e["report"].clone()))
            .collect()
    };
    let failed: Vec<_> = pcmk("fence_done")
        .into_iter()
        .filter(|(_, r)| r["target"] == "node1" && r["ok"] == false)
        .collect();
    assert_eq!(failed.len(), 10, "{failed:?}");
    let give_up = pcmk("fence_give_up");
    assert_eq!(give_up.len(), 1, "{give_up:?}");
    assert_eq!(give_up[0].1["failures"], 10);
    let (at, _) = give_up[0];
    let later: Vec<_> = pcmk("fence_requested")
        .into_iter()
        .filter(|(t, _)| *t > at)
        .collect();
    assert!(
        later.is_empty(),
        "fencing retried after giving up: {later:?}"
    );
    assert!(fenced_machines(&t).is_empty());
}

/// fence-reaction=stop: node1, "fenced" through a miswired PDU that powered
/// node2 off instead, is told so while it runs; its Pacemaker exits, taking
/// the VIP down, and reports nothing more (pacemaker-fenced-while-alive).
#[test]
fn a_node_told_it_was_fenced_while_alive_stops_its_pacemaker() {
    let t = trace("pacemaker-fenced-while-alive.toml", 1);
    let of_node1 = |what: &str| -> Option<(u64, Value)> {
        t.iter()
            .find(|e| e["node"] == "node1" && e["kind"] == "fencing" && e["report"]["what"] == what)
            .map(|e| (e["t_us"].as_u64().unwrap_or(0), e["report"].clone()))
    };
    let (told, _) = of_node1("fenced-while-alive").expect("node1 told it was fenced");
    let (exited, report) = of_node1("pacemaker-exited").expect("node1's Pacemaker exited");
    assert_eq!(told, exited);
    assert_eq!(report["reaction"], "stop");
    assert_eq!(report["vips_removed"], serde_json::json!(["10.0.0.100"]));
    // node2 was the machine the PDU switched off first; node1 was alive.
    assert_eq!(
        fenced_machines(&t).first().map(String::as_str),
        Some("node2")
    );
    let later = t.iter().filter(|e| {
        e["node"] == "node1"
            && e["kind"] == "pacemaker"
            && e["t_us"].as_u64().unwrap_or(0) > exited
            && e["report"]["event"] != "resource_active"
    });
    assert_eq!(later.count(), 0, "node1's Pacemaker kept running");
}

/// fence-reaction=panic: the node told it was fenced resets its machine
/// (power off and on through the machine lifecycle) right after its
/// Pacemaker exits.
#[test]
fn fence_reaction_panic_resets_the_machine() {
    let path = common::scenario_path("pacemaker-fenced-while-alive.toml");
    let crm_path = common::scenario_path("pacemaker/vip-haproxy-pdu-miswired.crm");
    let crm = std::fs::read_to_string(&crm_path).unwrap();
    let property = "property stonith-enabled=true";
    assert!(crm.contains(property), "the CIB's property line moved");
    let panic_crm = std::env::temp_dir().join(format!("hasim-panic-{}.crm", std::process::id()));
    std::fs::write(
        &panic_crm,
        crm.replace(
            property,
            "property fence-reaction=panic stonith-enabled=true",
        ),
    )
    .unwrap();
    let cib = "cib = \"pacemaker/vip-haproxy-pdu-miswired.crm\"";
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(cib), "the scenario's CIB line moved");
    let text = text.replace(cib, &format!("cib = {:?}", panic_crm.display().to_string()));
    let scenario = hasim::scenario::Scenario::parse(&text, &path.display().to_string())
        .unwrap_or_else(|e| panic!("{e}"));
    let buf = SharedBuf::default();
    world::run(&scenario, 1, Some(Box::new(buf.clone()))).unwrap();
    let bytes = buf.0.lock().unwrap().clone();
    let t: Vec<Value> = String::from_utf8(bytes)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let exited = t
        .iter()
        .find(|e| e["node"] == "node1" && e["report"]["what"] == "pacemaker-exited")
        .expect("node1's Pacemaker exited");
    assert_eq!(exited["report"]["reaction"], "panic");
    let at = exited["t_us"].as_u64().unwrap();
    let reset = t
        .iter()
        .find(|e| e["event"] == "watchdog-reset" && e["node"] == "node1")
        .expect("node1 reset");
    assert_eq!(reset["t_us"].as_u64(), Some(at));
    assert!(
        t.iter().any(|e| e["event"] == "power-on"
            && e["node"] == "node1"
            && e["t_us"].as_u64() >= Some(at)),
        "node1 did not come back"
    );
}
