//! Random valid CIBs for differential testing against the real
//! crm_simulate. A `Spec` is plain data (so proptest can shrink it);
//! `Spec::to_xml` renders the CIB.
//!
//! [`spec`] covers the tier-1/2 basics (primitives, a group, an anonymous
//! clone, plain constraints, failures). [`spec_extended`] adds
//! [`Extras`]: a promotable clone with failures, role changes, promotion
//! scores and notifications, parameter changes on clone instances,
//! resource-discovery, rules, resource sets, utilization, a template and
//! a tag. Remote nodes, guest nodes and bundles are to be added as further
//! optional parts of `Extras` (each renders its resources, constraints and
//! status through the `*_xml` methods of `Extras`, the extension point).

#![allow(dead_code)]

use proptest::prelude::*;

pub use super::extras::{extras, Extras};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeKind {
    Online,
    Offline,
    Standby,
    /// Left the cluster unexpectedly (fenced when fencing is enabled).
    Lost,
}

/// What a resource's history on one node says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum History {
    None,
    ProbedStopped,
    Started,
    MonitorFailed,
    StartFailed,
    Stopped,
}

#[derive(Debug, Clone)]
pub struct Location {
    pub rsc: usize,
    pub node: usize,
    pub score: i64,
}

#[derive(Debug, Clone)]
pub struct Coloc {
    pub rsc: usize,
    pub with: usize,
    pub score: i64,
}

#[derive(Debug, Clone)]
pub struct Order {
    pub first: usize,
    pub then: usize,
    pub mandatory: bool,
}

#[derive(Debug, Clone)]
pub struct Spec {
    pub nodes: Vec<NodeKind>,
    pub stonith: bool,
    pub symmetric: bool,
    pub stickiness: i64,
    /// Primitives; index 0.. are standalone, then `group_size` members of a group.
    pub prims: usize,
    pub group_size: usize,
    pub clone: bool,
    pub history: Vec<Vec<History>>,
    pub clone_history: Vec<History>,
    pub disabled: Vec<bool>,
    pub locations: Vec<Location>,
    pub colocs: Vec<Coloc>,
    pub orders: Vec<Order>,
    pub migration_threshold: Option<i64>,
    /// Features beyond the basics (None for [`spec`]).
    pub extras: Option<Extras>,
}

fn score() -> impl Strategy<Value = i64> {
    prop_oneof![Just(1_000_000i64), Just(-1_000_000i64), -200i64..200,]
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

fn node_kind() -> impl Strategy<Value = NodeKind> {
    prop_oneof![
        6 => Just(NodeKind::Online),
        1 => Just(NodeKind::Offline),
        1 => Just(NodeKind::Standby),
        1 => Just(NodeKind::Lost),
    ]
}

pub fn spec() -> impl Strategy<Value = Spec> {
    (
        2usize..=4,
        1usize..=3,
        0usize..=2,
        any::<bool>(),
        any::<bool>(),
        prop_oneof![Just(0i64), Just(100i64), 0i64..50],
        any::<bool>(),
    )
        .prop_flat_map(|(n, prims, group_size, stonith, clone, stickiness, asym)| {
            let group_size = if group_size == 1 { 2 } else { group_size };
            let total = prims + group_size;
            (
                proptest::collection::vec(node_kind(), n),
                proptest::collection::vec(proptest::collection::vec(history(), n), total),
                proptest::collection::vec(history(), n),
                proptest::collection::vec(prop::bool::weighted(0.1), total),
                proptest::collection::vec(
                    (0..total, 0..n, score()).prop_map(|(rsc, node, score)| Location {
                        rsc,
                        node,
                        score,
                    }),
                    0..3,
                ),
                proptest::collection::vec(
                    (0..total, 0..total, score()).prop_map(|(rsc, with, score)| Coloc {
                        rsc,
                        with,
                        score,
                    }),
                    0..2,
                ),
                proptest::collection::vec(
                    (0..total, 0..total, any::<bool>()).prop_map(|(first, then, mandatory)| {
                        Order {
                            first,
                            then,
                            mandatory,
                        }
                    }),
                    0..2,
                ),
                prop_oneof![Just(None), (1i64..4).prop_map(Some)],
                Just((prims, group_size, stonith, clone, stickiness, asym)),
            )
        })
        .prop_map(
            |(
                nodes,
                history,
                clone_history,
                disabled,
                locations,
                colocs,
                orders,
                mt,
                (prims, group_size, stonith, clone, stickiness, asym),
            )| Spec {
                nodes,
                stonith,
                symmetric: !asym,
                stickiness,
                prims,
                group_size,
                clone,
                history,
                clone_history,
                disabled,
                locations: locations.into_iter().collect(),
                colocs: colocs.into_iter().filter(|c| c.rsc != c.with).collect(),
                orders: orders.into_iter().filter(|o| o.first != o.then).collect(),
                migration_threshold: mt,
                extras: None,
            },
        )
}

/// The basics plus every feature of [`Extras`].
pub fn spec_extended() -> impl Strategy<Value = Spec> {
    (spec(), extras()).prop_map(|(mut s, e)| {
        s.extras = Some(e);
        s
    })
}

fn score_str(s: i64) -> String {
    if s >= 1_000_000 {
        "INFINITY".into()
    } else if s <= -1_000_000 {
        "-INFINITY".into()
    } else {
        s.to_string()
    }
}

impl Spec {
    pub fn rsc_name(&self, i: usize) -> String {
        if i < self.prims {
            format!("rsc{}", i + 1)
        } else {
            format!("grp-m{}", i - self.prims + 1)
        }
    }

    /// The id a constraint uses for resource `i` (group members are
    /// addressed through their group).
    fn constraint_target(&self, i: usize) -> String {
        if i < self.prims {
            self.rsc_name(i)
        } else {
            "grp".into()
        }
    }

    fn node_name(i: usize) -> String {
        format!("node{}", i + 1)
    }

    fn primitive(&self, id: &str, disabled: bool) -> String {
        let mut s =
            format!("<primitive id=\"{id}\" class=\"ocf\" provider=\"pacemaker\" type=\"Dummy\">");
        let mut meta = Vec::new();
        if disabled {
            meta.push(format!(
                "<nvpair id=\"{id}-target-role\" name=\"target-role\" value=\"Stopped\"/>"
            ));
        }
        if !meta.is_empty() {
            s.push_str(&format!(
                "<meta_attributes id=\"{id}-meta\">{}</meta_attributes>",
                meta.join("")
            ));
        }
        s.push_str(&format!(
            "<operations><op id=\"{id}-monitor-10s\" name=\"monitor\" interval=\"10s\"/></operations></primitive>"
        ));
        s
    }

    pub fn ops(&self, id: &str, h: History, node: &str, call: &mut u32) -> String {
        let op = |task: &str, interval: u32, rc: i32, target: i32, call: &mut u32| {
            *call += 1;
            let key = format!("{id}_{task}_{interval}");
            format!(
                "<lrm_rsc_op id=\"{key}\" operation_key=\"{key}\" operation=\"{task}\" crm-debug-origin=\"test\" crm_feature_set=\"3.16.2\" transition-key=\"{c}:1:{target}:abcd\" transition-magic=\"0:{rc};{c}:1:{target}:abcd\" exit-reason=\"\" on_node=\"{node}\" call-id=\"{c}\" rc-code=\"{rc}\" op-status=\"0\" interval=\"{interval}\" last-rc-change=\"1600000000\" exec-time=\"10\" queue-time=\"0\" op-digest=\"f2317cad3d54cec5d7d7aa7d0bf35cf8\"/>",
                c = call
            )
        };
        match h {
            History::None => String::new(),
            History::ProbedStopped => op("monitor", 0, 7, 7, call),
            History::Started => op("start", 0, 0, 0, call) + &op("monitor", 10000, 0, 0, call),
            History::MonitorFailed => {
                op("start", 0, 0, 0, call) + &op("monitor", 10000, 1, 0, call)
            }
            History::StartFailed => op("start", 0, 1, 0, call),
            History::Stopped => op("start", 0, 0, 0, call) + &op("stop", 0, 0, 0, call),
        }
    }

    pub fn failed(h: History) -> Option<&'static str> {
        match h {
            History::MonitorFailed => Some("monitor_10000"),
            History::StartFailed => Some("start_0"),
            _ => None,
        }
    }

    pub fn to_xml(&self) -> String {
        let mut x = String::new();
        x.push_str("<cib crm_feature_set=\"3.16.2\" validate-with=\"pacemaker-3.7\" epoch=\"1\" num_updates=\"1\" admin_epoch=\"0\" have-quorum=\"1\" dc-uuid=\"1\">\n<configuration>\n<crm_config><cluster_property_set id=\"cib-bootstrap-options\">");
        x.push_str(&format!(
            "<nvpair id=\"opt-stonith\" name=\"stonith-enabled\" value=\"{}\"/>",
            self.stonith
        ));
        x.push_str(&format!(
            "<nvpair id=\"opt-symmetric\" name=\"symmetric-cluster\" value=\"{}\"/>",
            self.symmetric
        ));
        if let Some(e) = &self.extras {
            x.push_str(&e.crm_config_xml());
        }
        x.push_str("</cluster_property_set></crm_config>\n<nodes>");
        for (i, k) in self.nodes.iter().enumerate() {
            let name = Self::node_name(i);
            x.push_str(&format!("<node id=\"{}\" uname=\"{name}\">", i + 1));
            if let Some(e) = &self.extras {
                x.push_str(&e.node_xml(i));
            }
            if *k == NodeKind::Standby {
                x.push_str(&format!(
                    "<instance_attributes id=\"{name}-attrs\"><nvpair id=\"{name}-standby\" name=\"standby\" value=\"on\"/></instance_attributes>"
                ));
            }
            x.push_str("</node>");
        }
        x.push_str("</nodes>\n<resources>");
        if self.stonith {
            x.push_str("<primitive id=\"Fencing\" class=\"stonith\" type=\"fence_dummy\"/>");
        }
        for i in 0..self.prims {
            let prim = self.primitive(&self.rsc_name(i), self.disabled[i]);
            match &self.extras {
                Some(e) => x.push_str(&e.adapt_primitive(i, prim)),
                None => x.push_str(&prim),
            }
        }
        if let Some(e) = &self.extras {
            x.push_str(&e.resources_xml(self));
        }
        if self.group_size > 0 {
            x.push_str("<group id=\"grp\">");
            for i in self.prims..self.prims + self.group_size {
                x.push_str(&self.primitive(&self.rsc_name(i), self.disabled[i]));
            }
            x.push_str("</group>");
        }
        if self.clone {
            x.push_str("<clone id=\"cl\">");
            let mut prim = self.primitive("cl-rsc", false);
            if self.extras.as_ref().is_some_and(|e| e.clone_param_change) {
                prim = prim.replacen(
                    "<operations>",
                    "<instance_attributes id=\"cl-rsc-params\"><nvpair id=\"cl-rsc-state\" name=\"state\" value=\"/run/cl-rsc.state\"/></instance_attributes><operations>",
                    1,
                );
            }
            x.push_str(&prim);
            x.push_str("</clone>");
        }
        x.push_str("</resources>\n");
        x.push_str("<constraints>");
        for (i, l) in self.locations.iter().enumerate() {
            x.push_str(&format!(
                "<rsc_location id=\"loc{i}\" rsc=\"{}\" node=\"{}\" score=\"{}\"/>",
                self.constraint_target(l.rsc),
                Self::node_name(l.node),
                score_str(l.score)
            ));
        }
        for (i, c) in self.colocs.iter().enumerate() {
            let (a, b) = (
                self.constraint_target(c.rsc),
                self.constraint_target(c.with),
            );
            if a == b {
                continue;
            }
            x.push_str(&format!(
                "<rsc_colocation id=\"col{i}\" rsc=\"{a}\" with-rsc=\"{b}\" score=\"{}\"/>",
                score_str(c.score)
            ));
        }
        for (i, o) in self.orders.iter().enumerate() {
            let (a, b) = (
                self.constraint_target(o.first),
                self.constraint_target(o.then),
            );
            if a == b {
                continue;
            }
            x.push_str(&format!(
                "<rsc_order id=\"ord{i}\" first=\"{a}\" then=\"{b}\" kind=\"{}\"/>",
                if o.mandatory { "Mandatory" } else { "Optional" }
            ));
        }
        if let Some(e) = &self.extras {
            x.push_str(&e.constraints_xml(self));
        }
        x.push_str("</constraints>\n");
        if let Some(e) = &self.extras {
            x.push_str(&e.tags_xml(self));
        }
        let mut meta = Vec::new();
        if self.stickiness != 0 {
            meta.push(format!(
                "<nvpair id=\"def-stick\" name=\"resource-stickiness\" value=\"{}\"/>",
                self.stickiness
            ));
        }
        if let Some(mt) = self.migration_threshold {
            meta.push(format!(
                "<nvpair id=\"def-mt\" name=\"migration-threshold\" value=\"{mt}\"/>"
            ));
        }
        if !meta.is_empty() {
            x.push_str(&format!("<rsc_defaults><meta_attributes id=\"rsc-options\">{}</meta_attributes></rsc_defaults>\n", meta.join("")));
        }
        x.push_str("</configuration>\n<status>\n");
        for (n, k) in self.nodes.iter().enumerate() {
            let name = Self::node_name(n);
            let state = match k {
                NodeKind::Online | NodeKind::Standby => {
                    "in_ccm=\"true\" crmd=\"online\" join=\"member\" expected=\"member\""
                }
                NodeKind::Offline => {
                    "in_ccm=\"false\" crmd=\"offline\" join=\"down\" expected=\"down\""
                }
                NodeKind::Lost => {
                    "in_ccm=\"false\" crmd=\"offline\" join=\"member\" expected=\"member\""
                }
            };
            x.push_str(&format!(
                "<node_state id=\"{}\" uname=\"{name}\" {state} crm-debug-origin=\"test\">",
                n + 1
            ));
            let mut fails = Vec::new();
            let mut lrm = String::new();
            let mut call = 0u32;
            if self.stonith && n == 0 && *k != NodeKind::Offline {
                lrm.push_str(
                    "<lrm_resource id=\"Fencing\" class=\"stonith\" type=\"fence_dummy\">",
                );
                lrm.push_str(&self.ops("Fencing", History::Started, &name, &mut call));
                lrm.push_str("</lrm_resource>");
            }
            for r in 0..self.prims + self.group_size {
                let h = self.history[r][n];
                if h == History::None {
                    continue;
                }
                let id = self.rsc_name(r);
                lrm.push_str(&format!("<lrm_resource id=\"{id}\" class=\"ocf\" provider=\"pacemaker\" type=\"Dummy\">"));
                lrm.push_str(&self.ops(&id, h, &name, &mut call));
                lrm.push_str("</lrm_resource>");
                if let Some(op) = Self::failed(h) {
                    fails.push((id, op));
                }
            }
            if let Some(e) = &self.extras {
                let (ops, extra_fails) = e.status_lrm_xml(n, &name, &mut call);
                lrm.push_str(&ops);
                fails.extend(extra_fails);
            }
            let promotion = self
                .extras
                .as_ref()
                .map(|e| e.transient_nvpairs(n))
                .unwrap_or_default();
            if self.clone {
                let h = self.clone_history[n];
                if h != History::None {
                    lrm.push_str("<lrm_resource id=\"cl-rsc\" class=\"ocf\" provider=\"pacemaker\" type=\"Dummy\">");
                    lrm.push_str(&self.ops("cl-rsc", h, &name, &mut call));
                    lrm.push_str("</lrm_resource>");
                    if let Some(op) = Self::failed(h) {
                        fails.push(("cl-rsc".to_string(), op));
                    }
                }
            }
            if !fails.is_empty() || !promotion.is_empty() {
                x.push_str(&format!(
                    "<transient_attributes id=\"{}\"><instance_attributes id=\"status-{}\">",
                    n + 1,
                    n + 1
                ));
                x.push_str(&promotion);
                for (id, op) in &fails {
                    x.push_str(&format!(
                        "<nvpair id=\"status-{n}-fc-{id}\" name=\"fail-count-{id}#{op}\" value=\"1\"/><nvpair id=\"status-{n}-lf-{id}\" name=\"last-failure-{id}#{op}\" value=\"1600000000\"/>"
                    ));
                }
                x.push_str("</instance_attributes></transient_attributes>");
            }
            if !lrm.is_empty() {
                x.push_str(&format!(
                    "<lrm id=\"{}\"><lrm_resources>{lrm}</lrm_resources></lrm>",
                    n + 1
                ));
            }
            x.push_str("</node_state>\n");
        }
        x.push_str("</status>\n</cib>\n");
        x
    }
}
