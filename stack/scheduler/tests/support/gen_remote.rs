//! Random CIBs with Pacemaker Remote: remote nodes (`ocf:pacemaker:remote`
//! connections that run, never started, or failed), a guest node (a VM
//! primitive with `remote-node`), an optional bundle, and Dummy primitives
//! and a clone whose histories span cluster, remote and guest nodes. Kept
//! apart from `gen.rs` so each generator can grow on its own.

#![allow(dead_code)]

use proptest::prelude::*;

/// State of a remote node's connection resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conn {
    /// Running on the given cluster node.
    Running(usize),
    /// Never started (no history, no node_state).
    NeverStarted,
    /// Its recurring monitor failed on the given cluster node.
    Failed(usize),
}

/// A resource's history on one node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hist {
    None,
    ProbedStopped,
    Started,
    MonitorFailed,
}

#[derive(Debug, Clone)]
pub struct RemoteSpec {
    /// Cluster nodes: true = online, false = lost (fenced when fencing is on).
    pub cluster: Vec<bool>,
    pub stonith: bool,
    pub remotes: Vec<Conn>,
    /// reconnect_interval on the connections.
    pub reconnect: bool,
    /// A guest node: the cluster node its VM runs on (None = stopped).
    pub guest: Option<Option<usize>>,
    /// Bundle replicas (0 = no bundle).
    pub bundle: usize,
    /// Primitives' histories, indexed [primitive][node] over all nodes
    /// (cluster, then remote, then the guest).
    pub prims: Vec<Vec<Hist>>,
    /// Location preferences: (primitive, node index over all nodes, score).
    pub locations: Vec<(usize, usize, i64)>,
    pub clone: bool,
    pub clone_history: Vec<Hist>,
}

fn hist() -> impl Strategy<Value = Hist> {
    prop_oneof![
        4 => Just(Hist::None),
        2 => Just(Hist::ProbedStopped),
        3 => Just(Hist::Started),
        1 => Just(Hist::MonitorFailed),
    ]
}

fn conn(cluster: usize) -> impl Strategy<Value = Conn> {
    prop_oneof![
        5 => (0..cluster).prop_map(Conn::Running),
        1 => Just(Conn::NeverStarted),
        1 => (0..cluster).prop_map(Conn::Failed),
    ]
}

/// Random remote/guest/bundle CIB specifications.
pub fn remote_spec() -> impl Strategy<Value = RemoteSpec> {
    remote_spec_with(true)
}

/// Random specifications, with or without a bundle.
pub fn remote_spec_with(bundles: bool) -> impl Strategy<Value = RemoteSpec> {
    let max_bundle = if bundles { 2 } else { 0 };
    (
        2usize..=3,
        1usize..=3,
        any::<bool>(),
        0usize..=max_bundle,
        1usize..=3,
    )
        .prop_flat_map(|(c, r, guest, bundle, prims)| {
            let all = c + r + usize::from(guest);
            (
                proptest::collection::vec(prop::bool::weighted(0.85), c),
                any::<bool>(),
                proptest::collection::vec(conn(c), r),
                prop::bool::weighted(0.2),
                if guest {
                    prop_oneof![3 => (0..c).prop_map(Some), 1 => Just(None)]
                        .prop_map(Some)
                        .boxed()
                } else {
                    Just(None).boxed()
                },
                Just(bundle),
                proptest::collection::vec(proptest::collection::vec(hist(), all), prims),
                proptest::collection::vec(
                    (
                        0..prims,
                        0..all,
                        prop_oneof![Just(100i64), Just(-1_000_000i64)],
                    ),
                    0..3,
                ),
                any::<bool>(),
                proptest::collection::vec(hist(), all),
            )
        })
        .prop_map(
            |(cluster, stonith, remotes, reconnect, guest, bundle, prims, locations, clone, ch)| {
                RemoteSpec {
                    cluster,
                    stonith,
                    remotes,
                    reconnect,
                    guest,
                    bundle,
                    prims,
                    locations,
                    clone,
                    clone_history: ch,
                }
            },
        )
}

const DIGEST: &str = "f2317cad3d54cec5d7d7aa7d0bf35cf8";

fn op(rsc: &str, task: &str, interval: u32, rc: i32, node: &str, call: &mut u32) -> String {
    *call += 1;
    let key = format!("{rsc}_{task}_{interval}");
    let target = if task == "monitor" && interval == 0 {
        7
    } else {
        0
    };
    format!(
        "<lrm_rsc_op id=\"{key}\" operation_key=\"{key}\" operation=\"{task}\" crm-debug-origin=\"test\" crm_feature_set=\"3.16.2\" transition-key=\"{c}:1:{target}:abcd\" transition-magic=\"0:{rc};{c}:1:{target}:abcd\" exit-reason=\"\" on_node=\"{node}\" call-id=\"{c}\" rc-code=\"{rc}\" op-status=\"0\" interval=\"{interval}\" last-rc-change=\"1600000000\" exec-time=\"10\" queue-time=\"0\" op-digest=\"{DIGEST}\"/>",
        c = call
    )
}

fn lrm_resource(id: &str, class: &str, provider: Option<&str>, agent: &str, ops: &str) -> String {
    let provider = provider
        .map(|p| format!(" provider=\"{p}\""))
        .unwrap_or_default();
    format!("<lrm_resource id=\"{id}\" class=\"{class}\"{provider} type=\"{agent}\">{ops}</lrm_resource>")
}

impl RemoteSpec {
    /// Names of all nodes in index order: cluster, remote, guest.
    pub fn node_names(&self) -> Vec<String> {
        let mut v: Vec<String> = (0..self.cluster.len())
            .map(|i| format!("node{}", i + 1))
            .collect();
        v.extend((0..self.remotes.len()).map(|i| format!("remote{}", i + 1)));
        if self.guest.is_some() {
            v.push("guest1".into());
        }
        v
    }

    /// Whether node `n` (index over all nodes) can have resource history.
    fn has_state(&self, n: usize) -> bool {
        let c = self.cluster.len();
        if n < c {
            return true;
        }
        if n < c + self.remotes.len() {
            return !matches!(self.remotes[n - c], Conn::NeverStarted);
        }
        matches!(self.guest, Some(Some(_)))
    }

    fn hist_ops(&self, id: &str, h: Hist, node: &str, call: &mut u32) -> (String, bool) {
        match h {
            Hist::None => (String::new(), false),
            Hist::ProbedStopped => (op(id, "monitor", 0, 7, node, call), false),
            Hist::Started => (
                op(id, "start", 0, 0, node, call) + &op(id, "monitor", 10000, 0, node, call),
                false,
            ),
            Hist::MonitorFailed => (
                op(id, "start", 0, 0, node, call) + &op(id, "monitor", 10000, 1, node, call),
                true,
            ),
        }
    }

    fn config(&self, x: &mut String) {
        x.push_str("<cib crm_feature_set=\"3.16.2\" validate-with=\"pacemaker-3.7\" epoch=\"1\" num_updates=\"1\" admin_epoch=\"0\" have-quorum=\"1\" dc-uuid=\"1\" execution-date=\"1600000100\">\n<configuration>\n<crm_config><cluster_property_set id=\"cib-bootstrap-options\">");
        x.push_str(&format!(
            "<nvpair id=\"opt-stonith\" name=\"stonith-enabled\" value=\"{}\"/>",
            self.stonith
        ));
        x.push_str("</cluster_property_set></crm_config>\n<nodes>");
        for i in 0..self.cluster.len() {
            x.push_str(&format!("<node id=\"{}\" uname=\"node{}\"/>", i + 1, i + 1));
        }
        x.push_str("</nodes>\n<resources>");
        if self.stonith {
            x.push_str("<primitive id=\"Fencing\" class=\"stonith\" type=\"fence_dummy\"/>");
        }
        for i in 0..self.remotes.len() {
            let id = format!("remote{}", i + 1);
            x.push_str(&format!(
                "<primitive id=\"{id}\" class=\"ocf\" provider=\"pacemaker\" type=\"remote\">"
            ));
            if self.reconnect {
                x.push_str(&format!("<instance_attributes id=\"{id}-ia\"><nvpair id=\"{id}-ri\" name=\"reconnect_interval\" value=\"60s\"/></instance_attributes>"));
            }
            x.push_str(&format!("<operations><op id=\"{id}-mon\" name=\"monitor\" interval=\"30s\" timeout=\"15s\"/></operations></primitive>"));
        }
        if self.guest.is_some() {
            x.push_str("<primitive id=\"vm1\" class=\"ocf\" provider=\"pacemaker\" type=\"Dummy\"><meta_attributes id=\"vm1-meta\"><nvpair id=\"vm1-rn\" name=\"remote-node\" value=\"guest1\"/></meta_attributes><operations><op id=\"vm1-mon\" name=\"monitor\" interval=\"10s\"/></operations></primitive>");
        }
        for i in 0..self.prims.len() {
            x.push_str(&format!("<primitive id=\"rsc{}\" class=\"ocf\" provider=\"pacemaker\" type=\"Dummy\"><operations><op id=\"rsc{}-mon\" name=\"monitor\" interval=\"10s\"/></operations></primitive>", i + 1, i + 1));
        }
        if self.clone {
            x.push_str("<clone id=\"cl\"><primitive id=\"cl-rsc\" class=\"ocf\" provider=\"pacemaker\" type=\"Dummy\"><operations><op id=\"cl-rsc-mon\" name=\"monitor\" interval=\"10s\"/></operations></primitive></clone>");
        }
        if self.bundle > 0 {
            x.push_str(&format!("<bundle id=\"bundle1\"><podman image=\"pcmktest:latest\" replicas=\"{}\"/><network control-port=\"3122\"/><primitive id=\"bdummy1\" class=\"ocf\" provider=\"pacemaker\" type=\"Dummy\"/></bundle>", self.bundle));
        }
        x.push_str("</resources>\n<constraints>");
        let names = self.node_names();
        for (i, &(r, n, s)) in self.locations.iter().enumerate() {
            let score = if s <= -1_000_000 {
                "-INFINITY".to_string()
            } else {
                s.to_string()
            };
            x.push_str(&format!(
                "<rsc_location id=\"loc{i}\" rsc=\"rsc{}\" node=\"{}\" score=\"{score}\"/>",
                r + 1,
                names[n]
            ));
        }
        x.push_str("</constraints>\n</configuration>\n");
    }

    /// The lrm entries and failures of one node.
    fn node_lrm(&self, n: usize, name: &str) -> (String, Vec<(String, &'static str)>) {
        let mut lrm = String::new();
        let mut fails = Vec::new();
        let mut call = 0u32;
        let c = self.cluster.len();
        if n < c {
            if self.stonith && n == 0 {
                let ops = op("Fencing", "start", 0, 0, name, &mut call);
                lrm.push_str(&lrm_resource(
                    "Fencing",
                    "stonith",
                    None,
                    "fence_dummy",
                    &ops,
                ));
            }
            for (i, conn) in self.remotes.iter().enumerate() {
                let id = format!("remote{}", i + 1);
                let ops = match *conn {
                    Conn::Running(h) if h == n => op(&id, "start", 0, 0, name, &mut call),
                    Conn::Failed(h) if h == n => {
                        fails.push((id.clone(), "monitor_30000"));
                        op(&id, "start", 0, 0, name, &mut call)
                            + &op(&id, "monitor", 30000, 1, name, &mut call)
                    }
                    _ => continue,
                };
                lrm.push_str(&lrm_resource(&id, "ocf", Some("pacemaker"), "remote", &ops));
            }
            if self.guest == Some(Some(n)) {
                let ops = op("vm1", "start", 0, 0, name, &mut call);
                lrm.push_str(&lrm_resource(
                    "vm1",
                    "ocf",
                    Some("pacemaker"),
                    "Dummy",
                    &ops,
                ));
            }
        }
        for (i, h) in self.prims.iter().enumerate() {
            let id = format!("rsc{}", i + 1);
            let (ops, failed) = self.hist_ops(&id, h[n], name, &mut call);
            if !ops.is_empty() {
                lrm.push_str(&lrm_resource(&id, "ocf", Some("pacemaker"), "Dummy", &ops));
            }
            if failed {
                fails.push((id, "monitor_10000"));
            }
        }
        if self.clone {
            let (ops, failed) = self.hist_ops("cl-rsc", self.clone_history[n], name, &mut call);
            if !ops.is_empty() {
                lrm.push_str(&lrm_resource(
                    "cl-rsc",
                    "ocf",
                    Some("pacemaker"),
                    "Dummy",
                    &ops,
                ));
            }
            if failed {
                fails.push(("cl-rsc".into(), "monitor_10000"));
            }
        }
        (lrm, fails)
    }

    pub fn to_xml(&self) -> String {
        let mut x = String::new();
        self.config(&mut x);
        x.push_str("<status>\n");
        let names = self.node_names();
        let c = self.cluster.len();
        for (n, name) in names.iter().enumerate() {
            if !self.has_state(n) {
                continue;
            }
            let head = if n < c {
                let state = if self.cluster[n] {
                    "in_ccm=\"true\" crmd=\"online\" join=\"member\" expected=\"member\""
                } else {
                    "in_ccm=\"false\" crmd=\"offline\" join=\"member\" expected=\"member\""
                };
                format!(
                    "<node_state id=\"{}\" uname=\"{name}\" {state} crm-debug-origin=\"test\">",
                    n + 1
                )
            } else {
                format!("<node_state id=\"{name}\" uname=\"{name}\" remote_node=\"true\" in_ccm=\"true\" crm-debug-origin=\"test\">")
            };
            x.push_str(&head);
            let id = if n < c {
                (n + 1).to_string()
            } else {
                name.clone()
            };
            let (lrm, fails) = self.node_lrm(n, name);
            if !fails.is_empty() {
                x.push_str(&format!(
                    "<transient_attributes id=\"{id}\"><instance_attributes id=\"status-{id}\">"
                ));
                for (rsc, op) in &fails {
                    x.push_str(&format!("<nvpair id=\"status-{id}-fc-{rsc}\" name=\"fail-count-{rsc}#{op}\" value=\"1\"/><nvpair id=\"status-{id}-lf-{rsc}\" name=\"last-failure-{rsc}#{op}\" value=\"1600000000\"/>"));
                }
                x.push_str("</instance_attributes></transient_attributes>");
            }
            if !lrm.is_empty() {
                x.push_str(&format!(
                    "<lrm id=\"{id}\"><lrm_resources>{lrm}</lrm_resources></lrm>"
                ));
            }
            x.push_str("</node_state>\n");
        }
        x.push_str("</status>\n</cib>\n");
        x
    }
}
