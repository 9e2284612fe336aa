//! The `full` generator: one random CIB mixing every feature the scheduler
//! claims. It starts from the extended spec (`gen::spec_extended`:
//! primitives, a group, a clone, a promotable clone with failures and role
//! changes, digests, discovery, rules, sets, utilization, a template, a
//! tag) and splices [`More`] into its XML: remote nodes (running, never
//! started or failed connections, reconnect_interval), a guest node, a
//! bundle, a cloned group (interleave, ordered after the clone), clone
//! notifications, on-fail variants, per-resource migration-threshold with
//! fail counts, a parameter change on a group member, utilization of group
//! members and a group member defined through the template.
//!
//! Splicing (instead of a parallel renderer) keeps one source of truth for
//! the basics: every part of `More` is inserted at a fixed anchor of the
//! base document (`</resources>`, a node's `<lrm_resources>`, ...).

#![allow(dead_code)]

use proptest::prelude::*;

use super::gen::{spec_extended, History, Spec};
use super::gen_remote::Conn;

/// A clone of a two-member group (`cg-clone` of `cg` = `cg-a`, `cg-b`).
#[derive(Debug, Clone)]
pub struct ClonedGroup {
    /// History of both members per cluster node (sized for four).
    pub history: Vec<(History, History)>,
    pub interleave: bool,
    /// `cl then cg-clone` (when the plain clone exists).
    pub after_clone: bool,
    pub notify: bool,
}

/// Features of the full generator beyond the extended spec.
#[derive(Debug, Clone)]
pub struct More {
    /// Remote nodes `remote1..`: their connections (host index modulo the
    /// cluster size).
    pub remotes: Vec<Conn>,
    pub reconnect: bool,
    /// Guest node `guest1`: the cluster node its VM runs on (None: stopped).
    pub guest: Option<Option<usize>>,
    /// Bundle replicas (0: no bundle).
    pub bundle: usize,
    /// History on each remote/guest node of (rsc1, cl-rsc, cg members).
    pub remote_hist: Vec<(History, History, History)>,
    /// rsc1 preferring (or banned from) a remote node: (remote, score).
    pub remote_loc: Option<(usize, i64)>,
    pub clone_notify: bool,
    pub cloned_group: Option<ClonedGroup>,
    /// on-fail of the last standalone primitive's monitor.
    pub on_fail: Option<&'static str>,
    /// migration-threshold meta of the last standalone primitive.
    pub rsc_threshold: Option<i64>,
    /// An extra fail count of the last standalone primitive: (node, value).
    pub failcount: Option<(usize, i64)>,
    /// grp-m1 gets a parameter its recorded digest does not have.
    pub member_param_change: bool,
    /// Group members get cpu needs (when a placement strategy is set).
    pub group_util: Vec<i64>,
    /// grp-m1 is defined through the template (when there is one).
    pub member_template: bool,
}

/// One CIB of the full generator.
#[derive(Debug, Clone)]
pub struct FullSpec {
    pub base: Spec,
    pub more: More,
}

fn history() -> impl Strategy<Value = History> {
    prop_oneof![
        3 => Just(History::None),
        2 => Just(History::ProbedStopped),
        4 => Just(History::Started),
        1 => Just(History::MonitorFailed),
        1 => Just(History::StartFailed),
        1 => Just(History::Stopped),
    ]
}

fn conn() -> impl Strategy<Value = Conn> {
    prop_oneof![
        5 => (0usize..4).prop_map(Conn::Running),
        1 => Just(Conn::NeverStarted),
        1 => (0usize..4).prop_map(Conn::Failed),
    ]
}

fn cloned_group() -> impl Strategy<Value = ClonedGroup> {
    (
        proptest::collection::vec((history(), history()), 4),
        any::<bool>(),
        any::<bool>(),
        prop::bool::weighted(0.3),
    )
        .prop_map(|(history, interleave, after_clone, notify)| ClonedGroup {
            history,
            interleave,
            after_clone,
            notify,
        })
}

fn on_fail() -> impl Strategy<Value = &'static str> {
    prop_oneof![
        Just("restart"),
        Just("ignore"),
        Just("block"),
        Just("stop"),
        Just("standby"),
        Just("fence"),
    ]
}

/// Random [`More`] parts (sized for up to four cluster nodes).
pub fn more() -> impl Strategy<Value = More> {
    let placement = (
        prop::option::weighted(0.3, 1i64..4),
        prop::option::weighted(0.3, (0usize..4, 1i64..5)),
        prop::bool::weighted(0.25),
        proptest::collection::vec(0i64..3, 2),
        prop::bool::weighted(0.4),
    );
    (
        proptest::collection::vec(conn(), 0..=2),
        prop::bool::weighted(0.2),
        prop::option::weighted(
            0.3,
            prop_oneof![3 => (0usize..4).prop_map(Some), 1 => Just(None)],
        ),
        prop_oneof![3 => Just(0usize), 1 => 1usize..=2],
        proptest::collection::vec((history(), history(), history()), 3),
        prop::option::weighted(
            0.3,
            (0usize..3, prop_oneof![Just(100i64), Just(-1_000_000i64)]),
        ),
        prop::bool::weighted(0.3),
        prop::option::weighted(0.4, cloned_group()),
        prop::option::weighted(0.4, on_fail()),
        placement,
    )
        .prop_map(
            |(remotes, reconnect, guest, bundle, remote_hist, remote_loc, notify, cg, of, p)| {
                More {
                    remotes,
                    reconnect,
                    guest,
                    bundle,
                    remote_hist,
                    remote_loc,
                    clone_notify: notify,
                    cloned_group: cg,
                    on_fail: of,
                    rsc_threshold: p.0,
                    failcount: p.1,
                    member_param_change: p.2,
                    group_util: p.3,
                    member_template: p.4,
                }
            },
        )
}

/// Random full CIB specifications.
pub fn full_spec() -> impl Strategy<Value = FullSpec> {
    (spec_extended(), more()).prop_map(|(base, more)| FullSpec { base, more })
}

/// Insert `what` right after the first occurrence of `anchor` (no-op when
/// the anchor is absent).
fn insert_after(xml: &mut String, anchor: &str, what: &str) -> bool {
    match xml.find(anchor) {
        Some(at) => {
            xml.insert_str(at + anchor.len(), what);
            true
        }
        None => false,
    }
}

/// Insert `what` right before the first occurrence of `anchor`.
fn insert_before(xml: &mut String, anchor: &str, what: &str) -> bool {
    match xml.find(anchor) {
        Some(at) => {
            xml.insert_str(at, what);
            true
        }
        None => false,
    }
}

fn nvpair(id: &str, name: &str, value: impl std::fmt::Display) -> String {
    format!("<nvpair id=\"{id}\" name=\"{name}\" value=\"{value}\"/>")
}

fn dummy(id: &str, inner: &str) -> String {
    format!(
        "<primitive id=\"{id}\" class=\"ocf\" provider=\"pacemaker\" type=\"Dummy\">{inner}<operations><op id=\"{id}-monitor-10s\" name=\"monitor\" interval=\"10s\"/></operations></primitive>"
    )
}

fn lrm_resource(id: &str, agent: &str, ops: &str) -> String {
    format!("<lrm_resource id=\"{id}\" class=\"ocf\" provider=\"pacemaker\" type=\"{agent}\">{ops}</lrm_resource>")
}

impl FullSpec {
    /// Cluster nodes, then remote nodes, then the guest node.
    fn remote_names(&self) -> Vec<String> {
        let mut v: Vec<String> = (0..self.more.remotes.len())
            .map(|i| format!("remote{}", i + 1))
            .collect();
        if self.more.guest.is_some() {
            v.push("guest1".into());
        }
        v
    }

    fn host(&self, i: usize) -> usize {
        i % self.base.nodes.len()
    }

    fn last_prim(&self) -> String {
        self.base.rsc_name(self.base.prims - 1)
    }

    pub fn to_xml(&self) -> String {
        let mut x = self.base.to_xml();
        insert_after(&mut x, "dc-uuid=\"1\"", " execution-date=\"1600000100\"");
        self.adapt_primitives(&mut x);
        self.adapt_group(&mut x);
        if self.base.clone && self.more.clone_notify {
            insert_after(
                &mut x,
                "<clone id=\"cl\">",
                &format!(
                    "<meta_attributes id=\"cl-meta\">{}</meta_attributes>",
                    nvpair("cl-notify", "notify", "true")
                ),
            );
        }
        insert_before(&mut x, "</resources>", &self.resources_xml());
        insert_before(&mut x, "</constraints>", &self.constraints_xml());
        for n in 0..self.base.nodes.len() {
            self.cluster_status(&mut x, n);
        }
        insert_before(&mut x, "</status>", &self.remote_status());
        x
    }

    /// on-fail, migration-threshold of the last standalone primitive.
    fn adapt_primitives(&self, x: &mut String) {
        let id = self.last_prim();
        if let Some(of) = self.more.on_fail {
            let op = format!("<op id=\"{id}-monitor-10s\" name=\"monitor\" interval=\"10s\"");
            insert_after(x, &op, &format!(" on-fail=\"{of}\""));
        }
        if let Some(mt) = self.more.rsc_threshold {
            let pair = nvpair(&format!("{id}-mt"), "migration-threshold", mt);
            if !insert_after(x, &format!("<meta_attributes id=\"{id}-meta\">"), &pair) {
                insert_before(
                    x,
                    &format!("<operations><op id=\"{id}-monitor-10s\""),
                    &format!("<meta_attributes id=\"{id}-meta\">{pair}</meta_attributes>"),
                );
            }
        }
    }

    /// grp-m1 through the template, with a changed parameter; members'
    /// utilization.
    fn adapt_group(&self, x: &mut String) {
        if self.base.group_size == 0 {
            return;
        }
        let extras = self.base.extras.as_ref();
        if self.more.member_template && extras.is_some_and(|e| e.template.is_some()) {
            *x = x.replacen(
                "<primitive id=\"grp-m1\" class=\"ocf\" provider=\"pacemaker\" type=\"Dummy\">",
                "<primitive id=\"grp-m1\" template=\"tpl\">",
                1,
            );
        }
        if self.more.member_param_change {
            insert_before(
                x,
                "<operations><op id=\"grp-m1-monitor-10s\"",
                &format!(
                    "<instance_attributes id=\"grp-m1-params\">{}</instance_attributes>",
                    nvpair("grp-m1-state", "state", "/run/grp-m1.state")
                ),
            );
        }
        if extras.is_some_and(|e| e.placement.is_some()) {
            for (m, need) in self.more.group_util.iter().enumerate() {
                let id = format!("grp-m{}", m + 1);
                insert_before(
                    x,
                    &format!("<operations><op id=\"{id}-monitor-10s\""),
                    &format!(
                        "<utilization id=\"{id}-util\">{}</utilization>",
                        nvpair(&format!("{id}-cpu"), "cpu", need)
                    ),
                );
            }
        }
    }

    /// Remote connections, the guest VM, the cloned group and the bundle.
    fn resources_xml(&self) -> String {
        let mut x = String::new();
        for i in 0..self.more.remotes.len() {
            let id = format!("remote{}", i + 1);
            x.push_str(&format!(
                "<primitive id=\"{id}\" class=\"ocf\" provider=\"pacemaker\" type=\"remote\">"
            ));
            if self.more.reconnect {
                x.push_str(&format!(
                    "<instance_attributes id=\"{id}-ia\">{}</instance_attributes>",
                    nvpair(&format!("{id}-ri"), "reconnect_interval", "60s")
                ));
            }
            x.push_str(&format!("<operations><op id=\"{id}-mon\" name=\"monitor\" interval=\"30s\" timeout=\"15s\"/></operations></primitive>"));
        }
        if self.more.guest.is_some() {
            x.push_str(&dummy(
                "vm1",
                &format!(
                    "<meta_attributes id=\"vm1-meta\">{}</meta_attributes>",
                    nvpair("vm1-rn", "remote-node", "guest1")
                ),
            ));
        }
        if let Some(cg) = &self.more.cloned_group {
            x.push_str(&format!(
                "<clone id=\"cg-clone\"><meta_attributes id=\"cg-clone-meta\">{}{}</meta_attributes><group id=\"cg\">{}{}</group></clone>",
                nvpair("cg-interleave", "interleave", cg.interleave),
                nvpair("cg-notify", "notify", cg.notify),
                dummy("cg-a", ""),
                dummy("cg-b", "")
            ));
        }
        if self.more.bundle > 0 {
            x.push_str(&format!("<bundle id=\"bundle1\"><podman image=\"pcmktest:latest\" replicas=\"{}\"/><network control-port=\"3122\"/>{}</bundle>", self.more.bundle, dummy("bdummy1", "")));
        }
        x
    }

    fn constraints_xml(&self) -> String {
        let mut x = String::new();
        let names = self.remote_names();
        if let Some((r, score)) = self.more.remote_loc {
            if !names.is_empty() {
                let score = if score <= -1_000_000 {
                    "-INFINITY".to_string()
                } else {
                    score.to_string()
                };
                x.push_str(&format!(
                    "<rsc_location id=\"loc-remote\" rsc=\"rsc1\" node=\"{}\" score=\"{score}\"/>",
                    names[r % names.len()]
                ));
            }
        }
        if let Some(cg) = &self.more.cloned_group {
            if cg.after_clone && self.base.clone {
                x.push_str("<rsc_order id=\"ord-cl-cg\" first=\"cl\" then=\"cg-clone\"/>");
            }
        }
        x
    }

    /// Histories (connections, VM, cloned group) and fail counts spliced
    /// into cluster node `n`'s node_state.
    fn cluster_status(&self, x: &mut String, n: usize) {
        let name = format!("node{}", n + 1);
        let mut call = 1000u32;
        let mut lrm = String::new();
        let mut fails: Vec<(String, &str, i64)> = Vec::new();
        for (i, conn) in self.more.remotes.iter().enumerate() {
            let id = format!("remote{}", i + 1);
            let started = ops(&id, "start", 0, 0, &name, &mut call);
            let ops = match *conn {
                Conn::Running(h) if self.host(h) == n => started,
                Conn::Failed(h) if self.host(h) == n => {
                    fails.push((id.clone(), "monitor_30000", 1));
                    started + &ops(&id, "monitor", 30000, 1, &name, &mut call)
                }
                _ => continue,
            };
            lrm.push_str(&lrm_resource(&id, "remote", &ops));
        }
        if let Some(Some(h)) = self.more.guest {
            if self.host(h) == n {
                let ops = ops("vm1", "start", 0, 0, &name, &mut call);
                lrm.push_str(&lrm_resource("vm1", "Dummy", &ops));
            }
        }
        if let Some(cg) = &self.more.cloned_group {
            let (a, b) = cg
                .history
                .get(n)
                .copied()
                .unwrap_or((History::None, History::None));
            self.history_of("cg-a", a, &name, &mut call, &mut lrm, &mut fails);
            self.history_of("cg-b", b, &name, &mut call, &mut lrm, &mut fails);
        }
        if let Some((node, value)) = self.more.failcount {
            if node % self.base.nodes.len() == n {
                fails.push((self.last_prim(), "stop_0", value));
            }
        }
        let state = format!("<node_state id=\"{}\" uname=\"{name}\"", n + 1);
        splice_node_state(x, &state, n + 1, &lrm, &fail_pairs(&n.to_string(), &fails));
    }

    /// A Dummy's lrm entry for history `h`, recording its failure.
    fn history_of(
        &self,
        id: &str,
        h: History,
        node: &str,
        call: &mut u32,
        lrm: &mut String,
        fails: &mut Vec<(String, &'static str, i64)>,
    ) {
        if h == History::None {
            return;
        }
        lrm.push_str(&lrm_resource(
            id,
            "Dummy",
            &self.base.ops(id, h, node, call),
        ));
        if let Some(op) = Spec::failed(h) {
            fails.push((id.to_string(), op, 1));
        }
    }

    /// node_state entries of the remote and guest nodes that have state.
    fn remote_status(&self) -> String {
        let mut x = String::new();
        for (i, name) in self.remote_names().iter().enumerate() {
            let up = match self.more.remotes.get(i) {
                Some(c) => !matches!(c, Conn::NeverStarted),
                None => matches!(self.more.guest, Some(Some(_))),
            };
            if !up {
                continue;
            }
            let (r, c, g) = self.more.remote_hist[i];
            let mut call = 2000u32;
            let mut lrm = String::new();
            let mut fails = Vec::new();
            self.history_of("rsc1", r, name, &mut call, &mut lrm, &mut fails);
            if self.base.clone {
                self.history_of("cl-rsc", c, name, &mut call, &mut lrm, &mut fails);
            }
            if self.more.cloned_group.is_some() {
                self.history_of("cg-a", g, name, &mut call, &mut lrm, &mut fails);
                self.history_of("cg-b", g, name, &mut call, &mut lrm, &mut fails);
            }
            x.push_str(&format!("<node_state id=\"{name}\" uname=\"{name}\" remote_node=\"true\" in_ccm=\"true\" crm-debug-origin=\"test\">"));
            if !fails.is_empty() {
                x.push_str(&format!(
                    "<transient_attributes id=\"{name}\"><instance_attributes id=\"status-{name}\">{}</instance_attributes></transient_attributes>",
                    fail_pairs(name, &fails)
                ));
            }
            if !lrm.is_empty() {
                x.push_str(&format!(
                    "<lrm id=\"{name}\"><lrm_resources>{lrm}</lrm_resources></lrm>"
                ));
            }
            x.push_str("</node_state>\n");
        }
        x
    }
}

/// Fail-count and last-failure pairs (ids unique per node `tag`).
fn fail_pairs(tag: &str, fails: &[(String, &str, i64)]) -> String {
    fails
        .iter()
        .map(|(id, op, v)| {
            format!(
                "{}{}",
                nvpair(
                    &format!("status-{tag}-xfc-{id}-{op}"),
                    &format!("fail-count-{id}#{op}"),
                    v
                ),
                nvpair(
                    &format!("status-{tag}-xlf-{id}-{op}"),
                    &format!("last-failure-{id}#{op}"),
                    1_600_000_000
                )
            )
        })
        .collect()
}

/// Add `lrm` entries and fail-count `pairs` to the node_state opened by
/// `open` (node id `id`), creating its transient attributes or lrm if the
/// base document has none.
fn splice_node_state(x: &mut String, open: &str, id: usize, lrm: &str, pairs: &str) {
    let Some(start) = x.find(open) else {
        return;
    };
    let end = start + x[start..].find("</node_state>").unwrap_or(0);
    let head_end = start + x[start..].find('>').unwrap_or(0) + 1;
    let section = x[start..end].to_string();
    let mut body = section[head_end - start..].to_string();
    if !lrm.is_empty() {
        let anchor = format!("<lrm id=\"{id}\"><lrm_resources>");
        if !insert_after(&mut body, &anchor, lrm) {
            body.push_str(&format!("{anchor}{lrm}</lrm_resources></lrm>"));
        }
    }
    if !pairs.is_empty() {
        let anchor = format!("<instance_attributes id=\"status-{id}\">");
        if !insert_after(&mut body, &anchor, pairs) {
            body.insert_str(
                0,
                &format!("<transient_attributes id=\"{id}\">{anchor}{pairs}</instance_attributes></transient_attributes>"),
            );
        }
    }
    x.replace_range(head_end..end, &body);
}

/// One lrm_rsc_op (same shape as the other generators').
fn ops(rsc: &str, task: &str, interval: u32, rc: i32, node: &str, call: &mut u32) -> String {
    *call += 1;
    let key = format!("{rsc}_{task}_{interval}");
    format!(
        "<lrm_rsc_op id=\"{key}\" operation_key=\"{key}\" operation=\"{task}\" crm-debug-origin=\"test\" crm_feature_set=\"3.16.2\" transition-key=\"{c}:1:0:abcd\" transition-magic=\"0:{rc};{c}:1:0:abcd\" exit-reason=\"\" on_node=\"{node}\" call-id=\"{c}\" rc-code=\"{rc}\" op-status=\"0\" interval=\"{interval}\" last-rc-change=\"1600000000\" exec-time=\"10\" queue-time=\"0\" op-digest=\"f2317cad3d54cec5d7d7aa7d0bf35cf8\"/>",
        c = call
    )
}
