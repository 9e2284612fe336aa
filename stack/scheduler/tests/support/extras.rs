//! Optional features of generated CIBs beyond the basics of `gen`: a
//! promotable clone (failures, role changes, promotion scores,
//! notifications, on-fail=demote), parameter changes on clone instances,
//! resource-discovery, a location rule on a node attribute, resource sets,
//! utilization, a template and a tag. Each `*_xml` method renders its part
//! of one CIB section; remote nodes, guest nodes and bundles are meant to
//! join as further fields rendered the same way.

#![allow(dead_code)]

use proptest::prelude::*;

use super::gen::Spec;

/// History of the promotable clone's instance on one node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PromHistory {
    None,
    Unpromoted,
    Promoted,
    PromoteFailed,
    PromotedMonitorFailed,
}

#[derive(Debug, Clone)]
pub struct Promotable {
    pub history: Vec<PromHistory>,
    /// `master-ms-rsc` promotion score per node (None: not set).
    pub scores: Vec<Option<i64>>,
    pub notify: bool,
    pub param_change: bool,
    pub on_fail_demote: bool,
}

#[derive(Debug, Clone)]
pub struct Extras {
    pub promotable: Option<Promotable>,
    pub clone_param_change: bool,
    /// resource-discovery of a location of resource 0 on node `.0`.
    pub discovery: Option<(usize, &'static str, i64)>,
    /// Node attribute `site` per node and a rule location on it.
    pub sites: Vec<bool>,
    pub rule_score: Option<i64>,
    /// A colocation set and an ordering set over the standalone primitives.
    pub coloc_set: Option<(i64, bool)>,
    pub order_set: Option<bool>,
    /// placement-strategy, node cpu capacity, primitive cpu needs.
    pub placement: Option<&'static str>,
    pub capacity: Vec<i64>,
    pub needs: Vec<i64>,
    /// The first primitive is defined through a template.
    pub template: Option<(i64, i64)>,
    /// A tag over the standalone primitives, banned from a node.
    pub tag_ban: Option<usize>,
}

fn prom_history() -> impl Strategy<Value = PromHistory> {
    prop_oneof![
        3 => Just(PromHistory::None),
        3 => Just(PromHistory::Unpromoted),
        3 => Just(PromHistory::Promoted),
        1 => Just(PromHistory::PromoteFailed),
        1 => Just(PromHistory::PromotedMonitorFailed),
    ]
}

fn promotable(n: usize) -> impl Strategy<Value = Promotable> {
    (
        proptest::collection::vec(prom_history(), n),
        proptest::collection::vec(
            prop_oneof![
                Just(None),
                (-10i64..20).prop_map(Some),
                Just(Some(1_000_000))
            ],
            n,
        ),
        any::<bool>(),
        prop::bool::weighted(0.3),
        prop::bool::weighted(0.2),
    )
        .prop_map(
            |(history, scores, notify, param_change, on_fail_demote)| Promotable {
                history,
                scores,
                notify,
                param_change,
                on_fail_demote,
            },
        )
}

/// Extras for a cluster of up to four nodes (vectors are sized for four).
pub fn extras() -> impl Strategy<Value = Extras> {
    let n = 4;
    (
        prop::option::weighted(0.6, promotable(n)),
        prop::bool::weighted(0.3),
        prop::option::weighted(
            0.3,
            (
                0..n,
                prop_oneof![Just("never"), Just("exclusive"), Just("always")],
                -50i64..100,
            ),
        ),
        proptest::collection::vec(any::<bool>(), n),
        prop::option::weighted(
            0.3,
            prop_oneof![Just(1_000_000i64), Just(-1_000_000i64), -100i64..100],
        ),
        prop::option::weighted(
            0.3,
            (prop_oneof![Just(1_000_000i64), -100i64..100], any::<bool>()),
        ),
        prop::option::weighted(0.3, any::<bool>()),
        prop::option::weighted(
            0.3,
            prop_oneof![Just("utilization"), Just("balanced"), Just("minimal")],
        ),
        proptest::collection::vec(0i64..4, n),
        proptest::collection::vec(0i64..3, n),
        prop::option::weighted(0.3, (0i64..100, 0i64..3)),
        prop::option::weighted(0.3, 0..n),
    )
        .prop_map(
            |(
                promotable,
                clone_param_change,
                discovery,
                sites,
                rule_score,
                coloc_set,
                order_set,
                placement,
                capacity,
                needs,
                template,
                tag_ban,
            )| Extras {
                promotable,
                clone_param_change,
                discovery,
                sites,
                rule_score,
                coloc_set,
                order_set,
                placement,
                capacity,
                needs,
                template,
                tag_ban,
            },
        )
}

fn score_str(s: i64) -> String {
    match s {
        s if s >= 1_000_000 => "INFINITY".into(),
        s if s <= -1_000_000 => "-INFINITY".into(),
        s => s.to_string(),
    }
}

fn nvpair(id: &str, name: &str, value: impl std::fmt::Display) -> String {
    format!("<nvpair id=\"{id}\" name=\"{name}\" value=\"{value}\"/>")
}

impl Extras {
    /// Options in `cib-bootstrap-options`.
    pub fn crm_config_xml(&self) -> String {
        self.placement
            .map(|p| nvpair("opt-placement", "placement-strategy", p))
            .unwrap_or_default()
    }

    /// Attributes and utilization inside `<node>` number `i`.
    pub fn node_xml(&self, i: usize) -> String {
        let name = format!("node{}", i + 1);
        let site = if self.sites.get(i).copied().unwrap_or(false) {
            "a"
        } else {
            "b"
        };
        let mut x = format!(
            "<instance_attributes id=\"{name}-site-attrs\">{}</instance_attributes>",
            nvpair(&format!("{name}-site"), "site", site)
        );
        if self.placement.is_some() {
            x.push_str(&format!(
                "<utilization id=\"{name}-util\">{}</utilization>",
                nvpair(
                    &format!("{name}-cpu"),
                    "cpu",
                    self.capacity.get(i).copied().unwrap_or(2)
                )
            ));
        }
        x
    }

    /// The template and the promotable clone (in `<resources>`).
    pub fn resources_xml(&self, spec: &Spec) -> String {
        let mut x = String::new();
        if let Some((stickiness, cpu)) = self.template {
            x.push_str(&format!(
                "<template id=\"tpl\" class=\"ocf\" provider=\"pacemaker\" type=\"Dummy\"><meta_attributes id=\"tpl-meta\">{}</meta_attributes><utilization id=\"tpl-util\">{}</utilization></template>",
                nvpair("tpl-stick", "resource-stickiness", stickiness),
                nvpair("tpl-cpu", "cpu", cpu)
            ));
        }
        if let Some(p) = &self.promotable {
            x.push_str(&promotable_xml(p));
        }
        let _ = spec;
        x
    }

    /// How a standalone primitive is declared: through the template for
    /// the first one when a template is generated, with utilization when a
    /// placement strategy is.
    pub fn adapt_primitive(&self, index: usize, xml: String) -> String {
        let mut xml = xml;
        let id = format!("rsc{}", index + 1);
        if index == 0 && self.template.is_some() {
            xml = xml.replacen(
                "class=\"ocf\" provider=\"pacemaker\" type=\"Dummy\"",
                "template=\"tpl\"",
                1,
            );
        }
        if self.placement.is_some() {
            let need = self.needs.get(index).copied().unwrap_or(1);
            xml = xml.replacen(
                "<operations>",
                &format!(
                    "<utilization id=\"{id}-util\">{}</utilization><operations>",
                    nvpair(&format!("{id}-cpu"), "cpu", need)
                ),
                1,
            );
        }
        xml
    }

    /// Discovery, rule and set constraints.
    pub fn constraints_xml(&self, spec: &Spec) -> String {
        let mut x = String::new();
        if spec.prims == 0 {
            return x;
        }
        if let Some((node, mode, score)) = self.discovery {
            x.push_str(&format!(
                "<rsc_location id=\"loc-disc\" rsc=\"rsc1\" node=\"node{}\" score=\"{score}\" resource-discovery=\"{mode}\"/>",
                node % spec.nodes.len() + 1
            ));
        }
        if let Some(score) = self.rule_score {
            x.push_str(&format!(
                "<rsc_location id=\"loc-rule\" rsc=\"{}\"><rule id=\"loc-rule-r\" score=\"{}\"><expression id=\"loc-rule-e\" attribute=\"site\" operation=\"eq\" value=\"a\"/></rule></rsc_location>",
                spec.rsc_name(spec.prims - 1),
                score_str(score)
            ));
        }
        let members = set_members(spec);
        if members.len() >= 2 {
            let refs: String = members
                .iter()
                .map(|m| format!("<resource_ref id=\"{m}\"/>"))
                .collect();
            if let Some((score, sequential)) = self.coloc_set {
                x.push_str(&format!(
                    "<rsc_colocation id=\"col-set\" score=\"{}\"><resource_set id=\"col-set-a\" sequential=\"{sequential}\">{refs}</resource_set></rsc_colocation>",
                    score_str(score)
                ));
            }
            if let Some(mandatory) = self.order_set {
                x.push_str(&format!(
                    "<rsc_order id=\"ord-set\" kind=\"{}\"><resource_set id=\"ord-set-a\">{refs}</resource_set></rsc_order>",
                    if mandatory { "Mandatory" } else { "Optional" }
                ));
            }
        }
        if let Some(node) = self.tag_ban {
            x.push_str(&format!(
                "<rsc_location id=\"loc-tag\" rsc=\"tag1\" node=\"node{}\" score=\"-INFINITY\"/>",
                node % spec.nodes.len() + 1
            ));
        }
        x
    }

    /// The `<tags>` section (after `<constraints>`).
    pub fn tags_xml(&self, spec: &Spec) -> String {
        if self.tag_ban.is_none() || spec.prims == 0 {
            return String::new();
        }
        let refs: String = (0..spec.prims)
            .map(|i| format!("<obj_ref id=\"{}\"/>", spec.rsc_name(i)))
            .collect();
        format!("<tags><tag id=\"tag1\">{refs}</tag></tags>\n")
    }

    /// History of the promotable instance on node `n`, and its failures.
    pub fn status_lrm_xml(
        &self,
        n: usize,
        node: &str,
        call: &mut u32,
    ) -> (String, Vec<(String, &'static str)>) {
        let Some(p) = &self.promotable else {
            return (String::new(), Vec::new());
        };
        let h = p.history.get(n).copied().unwrap_or(PromHistory::None);
        if h == PromHistory::None {
            return (String::new(), Vec::new());
        }
        let mut op = |task: &str, interval: u32, rc: i32, target: i32| {
            *call += 1;
            let key = format!("ms-rsc_{task}_{interval}");
            format!(
                "<lrm_rsc_op id=\"{key}\" operation_key=\"{key}\" operation=\"{task}\" crm-debug-origin=\"test\" crm_feature_set=\"3.16.2\" transition-key=\"{c}:1:{target}:abcd\" transition-magic=\"0:{rc};{c}:1:{target}:abcd\" exit-reason=\"\" on_node=\"{node}\" call-id=\"{c}\" rc-code=\"{rc}\" op-status=\"0\" interval=\"{interval}\" last-rc-change=\"1600000000\" exec-time=\"10\" queue-time=\"0\" op-digest=\"f2317cad3d54cec5d7d7aa7d0bf35cf8\"/>",
                c = call
            )
        };
        let (ops, failed) = match h {
            PromHistory::None => (String::new(), None),
            PromHistory::Unpromoted => (op("start", 0, 0, 0) + &op("monitor", 11000, 0, 0), None),
            PromHistory::Promoted => (
                op("start", 0, 0, 0) + &op("promote", 0, 0, 0) + &op("monitor", 10000, 8, 8),
                None,
            ),
            PromHistory::PromoteFailed => (
                op("start", 0, 0, 0) + &op("promote", 0, 1, 0),
                Some("promote_0"),
            ),
            PromHistory::PromotedMonitorFailed => (
                op("start", 0, 0, 0) + &op("promote", 0, 0, 0) + &op("monitor", 10000, 1, 8),
                Some("monitor_10000"),
            ),
        };
        let xml = format!(
            "<lrm_resource id=\"ms-rsc\" class=\"ocf\" provider=\"pacemaker\" type=\"Stateful\">{ops}</lrm_resource>"
        );
        let fails = failed
            .map(|f| vec![("ms-rsc".to_string(), f)])
            .unwrap_or_default();
        (xml, fails)
    }

    /// Promotion scores in the node's transient attributes.
    pub fn transient_nvpairs(&self, n: usize) -> String {
        let Some(p) = &self.promotable else {
            return String::new();
        };
        match p.scores.get(n).copied().flatten() {
            None => String::new(),
            Some(s) => nvpair(&format!("status-{n}-master"), "master-ms-rsc", score_str(s)),
        }
    }
}

/// The standalone primitives a set constraint names (and the group).
fn set_members(spec: &Spec) -> Vec<String> {
    let mut m: Vec<String> = (0..spec.prims).map(|i| spec.rsc_name(i)).collect();
    if spec.group_size > 0 {
        m.push("grp".into());
    }
    m
}

fn promotable_xml(p: &Promotable) -> String {
    let params = if p.param_change {
        format!(
            "<instance_attributes id=\"ms-rsc-params\">{}</instance_attributes>",
            nvpair("ms-rsc-state", "state", "/run/ms-rsc.state")
        )
    } else {
        String::new()
    };
    let on_fail = if p.on_fail_demote {
        " on-fail=\"demote\""
    } else {
        ""
    };
    format!(
        "<clone id=\"ms\"><meta_attributes id=\"ms-meta\">{}{}</meta_attributes><primitive id=\"ms-rsc\" class=\"ocf\" provider=\"pacemaker\" type=\"Stateful\">{params}<operations><op id=\"ms-rsc-mon-p\" name=\"monitor\" interval=\"10s\" role=\"Promoted\"{on_fail}/><op id=\"ms-rsc-mon-u\" name=\"monitor\" interval=\"11s\" role=\"Unpromoted\"/></operations></primitive></clone>",
        nvpair("ms-promotable", "promotable", "true"),
        nvpair("ms-notify", "notify", p.notify)
    )
}
