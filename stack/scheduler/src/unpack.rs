//! Building the working set from a CIB: cluster options, nodes, resources
//! (with clone instances), and the status section interpreted the way
//! Pacemaker's unpacking code does (node health, operation history to
//! current roles, failures and fail counts).

use std::collections::BTreeMap;

use hasim_cib::{AttrSet, Cib, LrmOp, LrmResource, OpDef, Resource, ResourceKind, Score, INFINITY};

use crate::graph::{add_location, fence_node};
use crate::naming::{natural_cmp, strip_instance};
use crate::rules::{is_true, parse_interval_ms, resolve_sets, RuleCtx};
use crate::ws::*;

/// Default "now" when the CIB carries no `execution-date`: a fixed instant
/// (2027-01-15) so that results are reproducible.
pub const DEFAULT_NOW: i64 = 1_800_000_000;

fn set_refs(sets: &[AttrSet]) -> Vec<&AttrSet> {
    sets.iter().collect()
}

fn meta_sets(sets: &[AttrSet]) -> Vec<&AttrSet> {
    sets.iter()
        .filter(|s| s.kind == hasim_cib::SetKind::Meta)
        .collect()
}

fn unpack_options(cib: &Cib, now: i64) -> Options {
    let mut cfg = BTreeMap::new();
    let ctx = RuleCtx {
        node_attrs: None,
        now,
        rsc_agent: None,
        op: None,
    };
    resolve_sets(&set_refs(&cib.crm_config), &ctx, &mut cfg);
    let flag = |k: &str, d: bool| cfg.get(k).map(|v| is_true(v)).unwrap_or(d);
    let stonith_enabled = flag("stonith-enabled", true);
    let no_quorum_policy = match cfg
        .get("no-quorum-policy")
        .map(|s| s.to_ascii_lowercase())
        .as_deref()
    {
        Some("freeze") => NoQuorum::Freeze,
        Some("ignore") => NoQuorum::Ignore,
        Some("demote") => NoQuorum::Demote,
        // Suicide only once the cluster has had quorum (or was told to panic).
        Some("suicide")
            if stonith_enabled
                && (cib.attr("have-quorum").is_some_and(is_true)
                    || cib
                        .attr("no-quorum-panic")
                        .and_then(|v| v.trim().parse::<i64>().ok())
                        .unwrap_or(0)
                        != 0) =>
        {
            NoQuorum::Suicide
        }
        _ => NoQuorum::Stop,
    };
    let have_quorum = cib.attr("have-quorum").map(is_true).unwrap_or(false);
    Options {
        stonith_enabled,
        stonith_action: cfg
            .get("stonith-action")
            .map(|s| {
                if s == "poweroff" {
                    "off".to_string()
                } else {
                    s.clone()
                }
            })
            .unwrap_or_else(|| "reboot".into()),
        symmetric: flag("symmetric-cluster", true),
        have_quorum,
        no_quorum_policy,
        stop_orphan_resources: flag("stop-orphan-resources", true),
        stop_orphan_actions: flag("stop-orphan-actions", true),
        maintenance_mode: flag("maintenance-mode", false),
        stop_all_resources: flag("stop-all-resources", false),
        start_failure_is_fatal: flag("start-failure-is-fatal", true),
        startup_fencing: stonith_enabled && flag("startup-fencing", true),
        concurrent_fencing: flag("concurrent-fencing", false),
        placement_strategy: cfg
            .get("placement-strategy")
            .cloned()
            .unwrap_or_else(|| "default".into()),
        // Watchdog-based self-fencing (SBD) counts as a fencing device.
        have_stonith_resource: flag("have-watchdog", false),
        now,
        default_stickiness: cfg
            .get("default-resource-stickiness")
            .map(|v| Score::parse_or_zero(v).value())
            .unwrap_or(0),
        startup_probes: flag("enable-startup-probes", true),
        health_strategy: cfg
            .get("node-health-strategy")
            .map(|v| v.to_ascii_lowercase())
            .unwrap_or_else(|| "none".into()),
        health_scores: {
            let num = |k: &str| {
                cfg.get(k)
                    .map(|v| Score::parse_or_zero(v).value())
                    .unwrap_or(0)
            };
            match cfg
                .get("node-health-strategy")
                .map(|v| v.to_ascii_lowercase())
                .as_deref()
            {
                Some("migrate-on-red") => (-INFINITY, 0, 0, 0),
                Some("only-green") => (-INFINITY, -INFINITY, 0, 0),
                _ => (
                    num("node-health-red"),
                    num("node-health-yellow"),
                    num("node-health-green"),
                    num("node-health-base"),
                ),
            }
        },
        legacy_failcounts: cib
            .attr("crm_feature_set")
            .is_none_or(|v| version_lt(v, "3.0.13")),
        enable_unfencing: unfencing_configured(cib),
        shutdown_lock: flag("shutdown-lock", false),
        shutdown_lock_limit: cfg
            .get("shutdown-lock-limit")
            .and_then(|v| parse_interval_ms(v))
            .map(|ms| (ms / 1000) as i64)
            .unwrap_or(0),
        priority_fencing_delay: cfg
            .get("priority-fencing-delay")
            .and_then(|v| parse_interval_ms(v))
            .map(|ms| ms / 1000)
            .unwrap_or(0),
    }
}

/// A history entry's `shutdown-lock` (the time its node shut down) locks
/// the resource to that node unless shutdown-lock-limit has passed since.
fn unpack_shutdown_lock(ws: &mut WorkingSet, rsc: RscId, node: NodeId, lr: &LrmResource) {
    let lock_time = lr
        .attr("shutdown-lock")
        .and_then(|v| v.trim().parse::<i64>().ok())
        .unwrap_or(0);
    if lock_time == 0 {
        return;
    }
    let limit = ws.options.shutdown_lock_limit;
    if limit > 0 && ws.options.now > lock_time + limit {
        return;
    }
    ws.rscs[rsc].lock_node = Some(node);
}

/// Whether a meta-attribute `provides` or `requires` of any resource (at
/// any depth) or of the resource defaults is exactly `unfencing`
/// (Pacemaker looks for such an nvpair with an XPath; rules and id-refs
/// are not considered, templates neither).
fn unfencing_configured(cib: &Cib) -> bool {
    fn in_sets(sets: &[hasim_cib::AttrSet]) -> bool {
        sets.iter()
            .filter(|s| s.kind == hasim_cib::SetKind::Meta)
            .flat_map(|s| &s.nvpairs)
            .any(|nv| {
                (nv.name == "provides" || nv.name == "requires")
                    && nv.value.as_deref() == Some("unfencing")
            })
    }
    fn in_rsc(r: &hasim_cib::Resource) -> bool {
        in_sets(&r.sets)
            || match &r.kind {
                ResourceKind::Primitive { .. } => false,
                ResourceKind::Group { children } => children.iter().any(in_rsc),
                ResourceKind::Clone { child, .. } => in_rsc(child),
                ResourceKind::Bundle { child, .. } => child.as_deref().is_some_and(in_rsc),
            }
    }
    cib.resources.iter().any(in_rsc) || in_sets(&cib.rsc_defaults)
}

fn version_lt(a: &str, b: &str) -> bool {
    let pa: Vec<i64> = a.split('.').map(|x| x.parse().unwrap_or(0)).collect();
    let pb: Vec<i64> = b.split('.').map(|x| x.parse().unwrap_or(0)).collect();
    for i in 0..pa.len().max(pb.len()) {
        let x = pa.get(i).copied().unwrap_or(0);
        let y = pb.get(i).copied().unwrap_or(0);
        if x != y {
            return x < y;
        }
    }
    false
}

/// Unpack a CIB into a fresh working set.
pub fn unpack(cib: &Cib) -> WorkingSet {
    let now = cib
        .attr("execution-date")
        .and_then(|v| v.trim().parse::<i64>().ok())
        .unwrap_or(DEFAULT_NOW);
    let options = unpack_options(cib, now);
    let mut ws = WorkingSet {
        options,
        nodes: Vec::new(),
        rscs: Vec::new(),
        top: Vec::new(),
        colocs: Vec::new(),
        orderings: Vec::new(),
        actions: Vec::new(),
        fence_actions: Vec::new(),
        warnings: Vec::new(),
        promoted_locations: Vec::new(),
        ticket_promotion_bans: Vec::new(),
        histories: Vec::new(),
        history_agents: Vec::new(),
        last_failure_checks: Vec::new(),
        links: Default::default(),
        lost_members: Default::default(),
        child_actions: Default::default(),
        name_order: Vec::new(),
    };
    unpack_nodes(cib, &mut ws);
    let guests = crate::remote_status::config_nodes(cib, &mut ws);
    ws.nodes.sort_by(|a, b| natural_cmp(&a.name, &b.name));
    let mut u = Unpacker {
        cib,
        rsc_by_id: BTreeMap::new(),
        node_keys: NodeKeys::default(),
    };
    for r in cib.resources.iter().chain(guests.iter()) {
        if let Some(id) = u.unpack_resource(&mut ws, r, None) {
            ws.top.push(id);
        }
        for (generated, member) in crate::bundle::expand(r) {
            if let Some(id) = u.unpack_resource(&mut ws, &generated, None) {
                ws.top.push(id);
                crate::remote_status::note_bundle_member(&mut ws, id, member);
            }
        }
    }
    crate::remote_status::link(&mut ws);
    // Stable sort of top-level resources by priority (highest first).
    let mut top = ws.top.clone();
    top.sort_by_key(|&r| std::cmp::Reverse(ws.rscs[r].priority));
    ws.top = top;
    u.unpack_status(&mut ws);
    ws.name_order = name_order(&ws.nodes);
    ws
}

/// Each node's place among the nodes sorted by name (equal names share
/// one): node sorting compares these instead of the names.
fn name_order(nodes: &[Node]) -> Vec<u32> {
    let mut by_name: Vec<NodeId> = (0..nodes.len()).collect();
    by_name.sort_by(|&a, &b| nodes[a].name.cmp(&nodes[b].name));
    let mut order = vec![0u32; nodes.len()];
    let mut place = 0u32;
    for (i, &n) in by_name.iter().enumerate() {
        if i > 0 && nodes[by_name[i - 1]].name != nodes[n].name {
            place += 1;
        }
        order[n] = place;
    }
    order
}

fn unpack_nodes(cib: &Cib, ws: &mut WorkingSet) {
    let dc = cib.attr("dc-uuid");
    for n in &cib.nodes {
        let node_type = n.node_type.clone().unwrap_or_else(|| "member".into());
        let remote = node_type == "remote";
        let mut node = Node {
            name: n.uname.clone(),
            id: n.id.clone(),
            node_type: node_type.clone(),
            weight: Score::ZERO,
            is_dc: dc == Some(n.id.as_str()),
            ..Default::default()
        };
        let mut base = BTreeMap::new();
        base.insert("#uname".to_string(), n.uname.clone());
        base.insert("#id".to_string(), n.id.clone());
        let kind = if remote { "remote" } else { "cluster" };
        base.insert("#kind".to_string(), kind.to_string());
        base.insert(
            "#is_dc".to_string(),
            if node.is_dc { "true" } else { "false" }.to_string(),
        );
        let ctx = RuleCtx {
            node_attrs: Some(&base),
            now: ws.options.now,
            rsc_agent: None,
            op: None,
        };
        let mut attrs = base.clone();
        let sets: Vec<&AttrSet> = n
            .sets
            .iter()
            .filter(|s| s.kind == hasim_cib::SetKind::Instance)
            .collect();
        resolve_sets(&sets, &ctx, &mut attrs);
        node.attrs = attrs;
        let util: Vec<&AttrSet> = n
            .sets
            .iter()
            .filter(|s| s.kind == hasim_cib::SetKind::Utilization)
            .collect();
        let mut cap = BTreeMap::new();
        resolve_sets(&util, &ctx, &mut cap);
        node.capacity = cap
            .into_iter()
            .map(|(k, v)| (k, utilization_value(&v)))
            .collect();
        // Startup fencing: unseen nodes are unclean until their state is
        // known (remote nodes: once linked to their connection).
        if remote {
            node.remote = Some(crate::remote_node::RemoteNode::default());
        } else {
            node.unclean = ws.options.startup_fencing;
            node.unseen = true;
        }
        ws.nodes.push(node);
    }
    ws.nodes.sort_by(|a, b| natural_cmp(&a.name, &b.name));
}

struct Unpacker<'a> {
    cib: &'a Cib,
    rsc_by_id: BTreeMap<String, RscId>,
    node_keys: NodeKeys,
}

/// Fewer nodes are scanned: building the maps costs more than it saves.
const INDEXED_NODES: usize = 16;

/// The first node with each id and each name, for matching status entries
/// to nodes (every entry is matched in each history pass), rebuilt when
/// nodes were added.
#[derive(Default)]
struct NodeKeys {
    nodes: usize,
    by_id: BTreeMap<String, NodeId>,
    by_name: BTreeMap<String, NodeId>,
}

impl NodeKeys {
    /// The first node whose id is `id` or whose name is `uname`.
    fn find(&mut self, nodes: &[Node], id: &str, uname: &str) -> Option<NodeId> {
        if nodes.len() < INDEXED_NODES {
            return nodes.iter().position(|x| x.id == id || x.name == uname);
        }
        if self.nodes != nodes.len() {
            self.nodes = nodes.len();
            self.by_id.clear();
            self.by_name.clear();
            for (n, node) in nodes.iter().enumerate() {
                self.by_id.entry(node.id.clone()).or_insert(n);
                self.by_name.entry(node.name.clone()).or_insert(n);
            }
        }
        let by_id = self.by_id.get(id).copied();
        let by_name = self.by_name.get(uname).copied();
        by_id.into_iter().chain(by_name).min()
    }
}

/// Result of looking at one operation history entry.
struct OpCtx {
    on_fail: OnFail,
    last_failure: Option<String>,
}

impl<'a> Unpacker<'a> {
    fn meta_for(
        &self,
        ws: &WorkingSet,
        res: &Resource,
        parent: Option<RscId>,
    ) -> BTreeMap<String, String> {
        let (class, provider, agent) = match &res.kind {
            ResourceKind::Primitive {
                class,
                provider,
                agent,
                ..
            } => (
                class.clone().unwrap_or_default(),
                provider.clone(),
                agent.clone().unwrap_or_default(),
            ),
            _ => (String::new(), None, String::new()),
        };
        let ctx = RuleCtx {
            node_attrs: None,
            now: ws.options.now,
            rsc_agent: Some((class.as_str(), provider.as_deref(), agent.as_str())),
            op: None,
        };
        let mut meta = BTreeMap::new();
        for (k, v) in &res.extra {
            meta.insert(k.clone(), v.clone());
        }
        resolve_sets(&meta_sets(&res.sets), &ctx, &mut meta);
        // A primitive defined through a template inherits its meta
        // attributes (the primitive's own win, as for its parameters).
        if let Some(tpl) = self.template_of(res) {
            let sets = template_sets(tpl, "meta_attributes");
            resolve_sets(&meta_sets(&sets), &ctx, &mut meta);
        }
        let mut defaults = BTreeMap::new();
        resolve_sets(&meta_sets(&self.cib.rsc_defaults), &ctx, &mut defaults);
        if let Some(p) = parent {
            for (k, v) in &ws.rscs[p].meta {
                meta.entry(k.clone()).or_insert_with(|| v.clone());
            }
        }
        for (k, v) in defaults {
            meta.entry(k).or_insert(v);
        }
        meta
    }

    /// The template a primitive is defined through, if any.
    fn template_of(&self, res: &Resource) -> Option<&'a hasim_cib::Element> {
        let ResourceKind::Primitive {
            template: Some(t), ..
        } = &res.kind
        else {
            return None;
        };
        self.cib.templates.iter().find(|e| e.attr("id") == Some(t))
    }

    fn apply_meta(&self, ws: &WorkingSet, rsc: &mut Rsc) {
        // Read while the resource's other fields are set, then put back.
        let m = std::mem::take(&mut rsc.meta);
        self.apply_meta_from(ws, rsc, &m);
        rsc.meta = m;
    }

    fn apply_meta_from(&self, ws: &WorkingSet, rsc: &mut Rsc, m: &BTreeMap<String, String>) {
        rsc.priority = m
            .get("priority")
            .map(|v| Score::parse_or_zero(v).value())
            .unwrap_or(0);
        rsc.critical = m.get("critical").is_none_or(|v| is_true(v));
        rsc.managed = !ws.options.maintenance_mode;
        if let Some(v) = m.get("is-managed") {
            if !v.eq_ignore_ascii_case("default") {
                rsc.managed = is_true(v);
            }
        }
        if m.get("maintenance").is_some_and(|v| is_true(v)) || ws.options.maintenance_mode {
            rsc.managed = false;
            rsc.maintenance = true;
        }
        rsc.stickiness = ws.options.default_stickiness;
        if let Some(v) = m.get("resource-stickiness") {
            if !v.eq_ignore_ascii_case("default") {
                rsc.stickiness = Score::parse_or_zero(v).value();
            }
        }
        if let Some(v) = m.get("migration-threshold") {
            if !v.eq_ignore_ascii_case("default") {
                rsc.migration_threshold = Score::parse_or_zero(v).value();
                if rsc.migration_threshold < 0 {
                    rsc.migration_threshold = 1;
                }
            }
        }
        if let Some(v) = m.get("failure-timeout") {
            rsc.failure_timeout = parse_interval_ms(v).unwrap_or(0) as i64 / 1000;
        }
        rsc.multiple_active_block = m.get("multiple-active").is_some_and(|v| v == "block");
        rsc.multiple_active_stop_unexpected = m
            .get("multiple-active")
            .is_some_and(|v| v.eq_ignore_ascii_case("stop_unexpected"));
        rsc.allow_migrate = m.get("allow-migrate").is_some_and(|v| is_true(v));
        if rsc.class.eq_ignore_ascii_case("stonith") {
            rsc.fence_device = true;
        }
        let requires = m.get("requires").map(|s| s.to_ascii_lowercase());
        let requires = match requires.as_deref() {
            Some("nothing") => "nothing",
            Some("quorum") => "quorum",
            Some("fencing") => "fencing",
            Some("unfencing") if ws.options.stonith_enabled && !rsc.fence_device => "unfencing",
            Some("unfencing") => "quorum",
            _ => {
                if rsc.fence_device {
                    "quorum"
                } else if ws.options.enable_unfencing && ws.options.stonith_enabled {
                    "unfencing"
                } else if ws.options.stonith_enabled {
                    "fencing"
                } else if ws.options.no_quorum_policy == NoQuorum::Ignore {
                    "nothing"
                } else {
                    "quorum"
                }
            }
        };
        rsc.needs_fencing = requires == "fencing" || requires == "unfencing";
        rsc.needs_unfencing = requires == "unfencing";
        rsc.needs_quorum = requires == "quorum";
        rsc.target_role = None;
        if let Some(v) = m.get("target-role") {
            if !v.eq_ignore_ascii_case("started") && !v.eq_ignore_ascii_case("default") {
                if let Some(role) = Role::parse(v) {
                    rsc.target_role = Some(role);
                }
            }
        }
    }

    fn unpack_resource(
        &mut self,
        ws: &mut WorkingSet,
        res: &Resource,
        parent: Option<RscId>,
    ) -> Option<RscId> {
        let variant = match &res.kind {
            ResourceKind::Primitive { .. } => Variant::Primitive,
            ResourceKind::Group { .. } => Variant::Group,
            ResourceKind::Clone { .. } => Variant::Clone,
            ResourceKind::Bundle { .. } => return None,
        };
        let mut rsc = Rsc::new(&res.id, variant);
        rsc.parent = parent;
        // Every resource keeps its instance attributes: primitives inherit
        // those of their group and clone (Pacemaker's get_rsc_attributes).
        let mut param_sets: Vec<AttrSet> = res
            .sets
            .iter()
            .filter(|s| s.kind == hasim_cib::SetKind::Instance)
            .cloned()
            .collect();
        if let ResourceKind::Primitive {
            class,
            provider,
            agent,
            template,
        } = &res.kind
        {
            rsc.class = class.clone().unwrap_or_default();
            rsc.provider = provider.clone();
            rsc.agent = agent.clone().unwrap_or_default();
            rsc.ops = res.ops.as_slice().into();
            if let Some(t) = template {
                if let Some(tpl) = self.cib.templates.iter().find(|e| e.attr("id") == Some(t)) {
                    rsc.class = tpl.attr("class").unwrap_or_default().to_string();
                    rsc.provider = tpl.attr("provider").map(str::to_string);
                    rsc.agent = tpl.attr("type").unwrap_or_default().to_string();
                    // The primitive's own sets win over the template's.
                    param_sets.extend(template_sets(tpl, "instance_attributes"));
                    if rsc.ops.is_empty() {
                        rsc.ops = template_ops(tpl).into();
                    }
                }
            }
        }
        rsc.param_sets = param_sets.into();
        rsc.meta = self.meta_for(ws, res, parent);
        {
            let util: Vec<&AttrSet> = res
                .sets
                .iter()
                .filter(|s| s.kind == hasim_cib::SetKind::Utilization)
                .collect();
            let ctx = RuleCtx {
                node_attrs: None,
                now: ws.options.now,
                rsc_agent: None,
                op: None,
            };
            let mut u = BTreeMap::new();
            resolve_sets(&util, &ctx, &mut u);
            if let Some(tpl) = self.template_of(res) {
                let sets = template_sets(tpl, "utilization");
                let refs: Vec<&AttrSet> = sets.iter().collect();
                resolve_sets(&refs, &ctx, &mut u);
            }
            rsc.utilization = u
                .into_iter()
                .map(|(k, v)| (k, utilization_value(&v)))
                .collect();
        }
        self.apply_meta(ws, &mut rsc);
        let top = parent.map(|p| ws.uber_parent(p));
        let in_clone = top.is_some_and(|t| ws.rscs[t].variant == Variant::Clone);
        if variant == Variant::Clone {
            rsc.unique = rsc.meta.get("globally-unique").is_some_and(|v| is_true(v));
            let legacy = matches!(
                res.kind,
                ResourceKind::Clone {
                    legacy_master: true,
                    ..
                }
            );
            rsc.promotable = legacy || rsc.meta.get("promotable").is_some_and(|v| is_true(v));
            if !rsc.meta.contains_key("resource-stickiness") {
                rsc.meta.insert("resource-stickiness".into(), "1".into());
                rsc.stickiness = 1;
            }
            rsc.meta.insert(
                "globally-unique".into(),
                if rsc.unique { "true" } else { "false" }.into(),
            );
            let num = |k: &str, alt: &str, d: usize| {
                rsc.meta
                    .get(k)
                    .or_else(|| rsc.meta.get(alt))
                    .map(|v| v.trim().parse::<i64>().unwrap_or(0).max(0) as usize)
                    .unwrap_or(d)
            };
            let known = crate::remote_status::nodes_before(self.cib, ws, &res.id);
            rsc.clone_max = num("clone-max", "clone-max", known.max(1));
            rsc.clone_node_max = num("clone-node-max", "clone-node-max", 1);
            rsc.promoted_max = num("promoted-max", "master-max", 1);
            rsc.promoted_node_max = num("promoted-node-max", "master-node-max", 1);
            if !rsc.unique && rsc.clone_node_max > 1 {
                rsc.clone_node_max = 1;
            }
            rsc.interleave = rsc.meta.get("interleave").is_some_and(|v| is_true(v));
            rsc.ordered = rsc.meta.get("ordered").is_some_and(|v| is_true(v));
        } else if in_clone {
            let t = top.unwrap_or(0);
            rsc.unique = ws.rscs[t].unique;
            rsc.promotable = ws.rscs[t].promotable;
        } else {
            rsc.unique = true;
        }
        // Only Stopped and (for promotable clones) Unpromoted target roles
        // change anything; Started and Promoted are the defaults.
        if let Some(tr) = rsc.target_role {
            if tr > Role::Started && (!rsc.promotable || tr > Role::Unpromoted) {
                rsc.target_role = None;
            }
        }
        if let Some(tr) = rsc.target_role {
            rsc.next_role = tr;
        }
        if variant == Variant::Group {
            rsc.group_ordered = rsc.meta.get("ordered").is_none_or(|v| is_true(v));
            rsc.group_colocated = rsc.meta.get("collocated").is_none_or(|v| is_true(v));
        }
        if rsc.fence_device {
            ws.options.have_stonith_resource = true;
        }
        let id = ws.rscs.len();
        ws.rscs.push(rsc);
        self.rsc_by_id.entry(ws.rscs[id].id.clone()).or_insert(id);
        match &res.kind {
            ResourceKind::Group { children } => {
                for c in children {
                    if let Some(cid) = self.unpack_resource(ws, c, Some(id)) {
                        ws.rscs[id].children.push(cid);
                    }
                }
            }
            ResourceKind::Clone { child, .. } => {
                let n = ws.rscs[id].clone_max.max(1);
                let first = ws.rscs.len();
                if self.create_instance(ws, id, child, 0).is_some()
                    && ws.rscs[first..].iter().all(|r| r.variant != Variant::Clone)
                {
                    let last = ws.rscs.len();
                    for i in 1..n {
                        self.copy_instance(ws, id, first..last, i);
                    }
                } else {
                    for i in 1..n {
                        self.create_instance(ws, id, child, i);
                    }
                }
            }
            _ => {}
        }
        Some(id)
    }

    /// Create clone instance number `n` (a primitive or group with `:n` ids).
    fn create_instance(
        &mut self,
        ws: &mut WorkingSet,
        clone: RscId,
        child: &Resource,
        n: usize,
    ) -> Option<RscId> {
        let cid = self.unpack_resource(ws, child, Some(clone))?;
        self.rename_instance(ws, cid, n);
        ws.rscs[clone].children.push(cid);
        Some(cid)
    }

    /// Create clone instance number `n` as a copy of the first instance,
    /// the resources `first` (unpacked into consecutive places, parent
    /// first): unpacking the same definition under the same clone again
    /// would give the same resources, only slower (meta attributes,
    /// rules and parameters resolved once per instance of a large clone).
    fn copy_instance(
        &mut self,
        ws: &mut WorkingSet,
        clone: RscId,
        first: std::ops::Range<RscId>,
        n: usize,
    ) {
        let start = first.start;
        let offset = ws.rscs.len() - start;
        for r in first {
            let mut copy = ws.rscs[r].clone();
            copy.id.clone_from(&copy.base_id);
            copy.parent = if r == start {
                Some(clone)
            } else {
                copy.parent.map(|p| p + offset)
            };
            for c in &mut copy.children {
                *c += offset;
            }
            let id = ws.rscs.len();
            self.rsc_by_id.entry(copy.id.clone()).or_insert(id);
            ws.rscs.push(copy);
        }
        self.rename_instance(ws, start + offset, n);
        ws.rscs[clone].children.push(start + offset);
    }

    fn rename_instance(&mut self, ws: &mut WorkingSet, r: RscId, n: usize) {
        let base = ws.rscs[r].base_id.clone();
        ws.rscs[r].id = format!("{base}:{n}");
        self.rsc_by_id.insert(ws.rscs[r].id.clone(), r);
        for c in ws.rscs[r].children.clone() {
            self.rename_instance(ws, c, n);
        }
    }

    fn unpack_status(&mut self, ws: &mut WorkingSet) {
        let cib = self.cib;
        // First pass: node states.
        for ns in &cib.status {
            let Some(n) = self.node_of(ws, ns) else {
                continue;
            };
            if ws.nodes[n].remote.is_some() {
                crate::remote_status::read_node_state(ws, n, ns);
                continue;
            }
            // Transient attributes override configured ones.
            for (k, v) in ns.transient_attributes() {
                ws.nodes[n].attrs.insert(k, v);
            }
            ws.nodes[n].unclean = false;
            ws.nodes[n].unseen = false;
            ws.nodes[n].has_state = true;
            determine_online_status(ws, n, ns);
            if !ws.options.have_quorum
                && ws.nodes[n].online
                && ws.options.no_quorum_policy == NoQuorum::Suicide
            {
                fence_node(ws, n, "cluster does not have quorum");
            }
        }
        // Node attributes that matter for scheduling (remote nodes read
        // theirs with their history).
        for n in 0..ws.nodes.len() {
            if ws.nodes[n].remote.is_some() {
                continue;
            }
            let node = &mut ws.nodes[n];
            if node.attrs.get("standby").is_some_and(|v| is_true(v)) {
                node.standby = true;
            }
            if node.attrs.get("maintenance").is_some_and(|v| is_true(v)) {
                node.maintenance = true;
            }
        }
        // Resource histories, in passes as Pacemaker reads them: a remote
        // node's history only once its connection is known to be up, and
        // (without fencing) offline cluster nodes' never.
        while self.history_pass(ws, false) {}
        let fence = ws.options.stonith_enabled;
        self.history_pass(ws, fence);
        crate::remote_status::after_history(ws);
    }

    /// One pass over the status entries not yet read; true if any was.
    fn history_pass(&mut self, ws: &mut WorkingSet, fence: bool) -> bool {
        let cib = self.cib;
        let mut progress = false;
        for ns in &cib.status {
            let Some(n) = self.node_of(ws, ns) else {
                continue;
            };
            if ws.nodes[n].unpacked {
                continue;
            }
            let remote = ws.nodes[n].remote.is_some();
            if !fence {
                if remote && !crate::remote_status::history_ready(ws, n) {
                    continue;
                }
                if !remote && !ws.options.stonith_enabled && !ws.nodes[n].online {
                    continue;
                }
            }
            if remote {
                crate::remote_status::determine_online(ws, n);
                crate::remote_status::unpack_attrs(ws, n, ns);
            }
            ws.nodes[n].unpacked = true;
            if let Some(lrm) = &ns.lrm {
                for lr in lrm {
                    self.unpack_lrm_resource(ws, n, lr);
                }
            }
            progress = true;
        }
        progress
    }

    fn node_of(&mut self, ws: &WorkingSet, ns: &hasim_cib::NodeState) -> Option<NodeId> {
        let uname = ns.uname()?;
        self.node_keys.find(&ws.nodes, ns.id(), uname)
    }

    fn find_instance_member(&self, ws: &WorkingSet, instance: RscId, base: &str) -> Option<RscId> {
        if ws.rscs[instance].base_id == base && ws.rscs[instance].variant == Variant::Primitive {
            return Some(instance);
        }
        for &c in &ws.rscs[instance].children {
            if let Some(f) = self.find_instance_member(ws, c, base) {
                return Some(f);
            }
        }
        None
    }

    /// Whether instance `r` is active or pending anywhere, and whether on
    /// `node` (find_anonymous_clone's look at each instance's locations;
    /// without building the set: a clone of a thousand instances asks this
    /// for every history entry).
    fn located(ws: &WorkingSet, r: RscId, node: NodeId) -> (bool, bool) {
        let rsc = &ws.rscs[r];
        if rsc.variant != Variant::Primitive {
            let mut any = false;
            for &c in &rsc.children {
                match Self::located(ws, c, node) {
                    (_, true) => return (true, true),
                    (a, false) => any |= a,
                }
            }
            return (any, false);
        }
        let pending = rsc.pending_task.as_ref().map(|(_, n)| *n);
        let any = !rsc.running_on.is_empty() || pending.is_some();
        (any, rsc.running_on.contains(&node) || pending == Some(node))
    }

    fn find_anonymous(
        &mut self,
        ws: &mut WorkingSet,
        node: NodeId,
        clone: RscId,
        base: &str,
    ) -> Option<RscId> {
        let mut found = None;
        let mut inactive = None;
        let mut skip_inactive = false;
        for i in 0..ws.rscs[clone].children.len() {
            let child = ws.rscs[clone].children[i];
            let (anywhere, here) = Self::located(ws, child, node);
            if anywhere {
                if here {
                    if let Some(r) = self.find_instance_member(ws, child, base) {
                        if !ws.rscs[r].running_on.is_empty() {
                            skip_inactive = true;
                        } else {
                            found = Some(r);
                            break;
                        }
                    }
                }
            } else if !skip_inactive && inactive.is_none() && !ws.rscs[child].block {
                inactive = self.find_instance_member(ws, child, base);
                if let Some(r) = inactive {
                    if ws.rscs[r]
                        .pending_task
                        .as_ref()
                        .is_some_and(|(_, n)| *n != node)
                    {
                        inactive = None;
                    }
                }
            }
        }
        let mut rsc = found.or(if skip_inactive { None } else { inactive });
        if let Some(r) = rsc {
            // Instances that do not need fencing are not counted as active
            // on a lost node, unless every node gets an instance anyway
            // (a "universal" clone).
            let n = &ws.nodes[node];
            let universal = ws.rscs[clone].clone_max == ws.nodes.len();
            if !ws.rscs[r].needs_fencing && (!n.online || n.unclean) && !universal {
                rsc = None;
            }
        }
        if rsc.is_none() {
            rsc = self.create_anonymous_orphan(ws, clone, base);
        }
        rsc
    }

    fn create_anonymous_orphan(
        &mut self,
        ws: &mut WorkingSet,
        clone: RscId,
        base: &str,
    ) -> Option<RscId> {
        let cib = self.cib;
        let child_cfg = cib
            .resources
            .iter()
            .find_map(|r| find_config(r, &ws.rscs[clone].base_id))?;
        let ResourceKind::Clone { child, .. } = &child_cfg.kind else {
            return None;
        };
        let n = ws.rscs[clone].children.len();
        let inst = self.create_instance(ws, clone, child, n)?;
        for p in ws.primitives_of(inst) {
            ws.rscs[p].orphan = true;
        }
        ws.rscs[inst].orphan = true;
        self.find_instance_member(ws, inst, base)
    }

    fn find_resource(
        &mut self,
        ws: &mut WorkingSet,
        node: NodeId,
        lr: &LrmResource,
    ) -> Option<RscId> {
        let rsc_id = lr.id();
        let direct = self
            .rsc_by_id
            .get(rsc_id)
            .copied()
            .filter(|&r| ws.rscs[r].configured_primitive_or_instance());
        let (rsc, parent) = match direct {
            Some(r) if ws.rscs[r].variant != Variant::Primitive => return None,
            Some(r) => (Some(r), ws.uber_parent(r)),
            None => {
                let base = strip_instance(rsc_id);
                let zero = format!("{base}:0");
                match self.rsc_by_id.get(&zero).copied() {
                    Some(r) if !ws.rscs[r].unique => (Some(r), ws.uber_parent(r)),
                    _ => (None, 0),
                }
            }
        };
        let rsc = rsc?;
        let found = if ws.rscs[parent].variant == Variant::Clone && !ws.rscs[parent].unique {
            let base = strip_instance(rsc_id).to_string();
            self.find_anonymous(ws, node, parent, &base)
        } else {
            Some(rsc)
        };
        if let Some(f) = found {
            if ws.rscs[f].id != rsc_id {
                ws.rscs[f].clone_name = Some(rsc_id.to_string());
            }
        }
        found
    }

    /// Bundles are not modelled yet: history of their generated resources
    /// (`BUNDLE-docker-0`, `BUNDLE-ip-...`, ...) is ignored rather than
    /// treated as orphans.
    fn belongs_to_bundle(&self, id: &str) -> bool {
        self.cib.resources.iter().any(|r| {
            matches!(r.kind, ResourceKind::Bundle { .. })
                && id.starts_with(&r.id)
                && id[r.id.len()..].starts_with('-')
        })
    }

    // ------------------------------------------------ live migrations
    //
    // A migration's outcome depends on the history of the resource on the
    // other node too (Pacemaker's unpack_migrate_to_success,
    // unpack_migrate_to_failure and unpack_migrate_from_failure).

    /// The history of resource `rsc_id` on the node named `node_name`.
    fn lrm_resource_on(&self, rsc_id: &str, node_name: &str) -> Option<&'a LrmResource> {
        self.cib
            .status
            .iter()
            .filter(|ns| ns.uname() == Some(node_name))
            .filter_map(|ns| ns.lrm.as_ref())
            .flatten()
            .find(|lr| lr.id() == rsc_id)
    }

    /// The first `task` entry of `rsc_id` on `node_name` (for migrate_to
    /// with that migrate_target, for migrate_from with that
    /// migrate_source, when `other` is given), if it has `target_rc`.
    fn find_lrm_op(
        &self,
        rsc_id: &str,
        task: &str,
        node_name: &str,
        other: Option<&str>,
        target_rc: Option<i64>,
    ) -> Option<&'a LrmOp> {
        let lr = self.lrm_resource_on(rsc_id, node_name)?;
        let op = lr.ops.iter().find(|op| {
            op.operation() == task
                && match (other, task) {
                    (Some(o), "migrate_to") => op.attr("migrate_target") == Some(o),
                    (Some(o), "migrate_from") => op.attr("migrate_source") == Some(o),
                    _ => true,
                }
        })?;
        match target_rc {
            Some(rc) if op.rc_code() != rc || op.op_status() != 0 => None,
            _ => Some(op),
        }
    }

    fn unknown_on_node(&self, rsc_id: &str, node_name: &str) -> bool {
        self.lrm_resource_on(rsc_id, node_name)
            .is_none_or(|lr| lr.ops.is_empty())
    }

    /// Whether a start, stop or migration of `rsc_id` on `node_name` is
    /// newer than `than`.
    fn non_monitor_after(
        &self,
        rsc_id: &str,
        node_name: &str,
        than: &LrmOp,
        same_node: bool,
    ) -> bool {
        let Some(lr) = self.lrm_resource_on(rsc_id, node_name) else {
            return false;
        };
        lr.ops.iter().any(|op| {
            op.attrs() != than.attrs()
                && matches!(
                    op.operation(),
                    "start" | "stop" | "migrate_to" | "migrate_from"
                )
                && newer_op(op, than, same_node) == std::cmp::Ordering::Greater
        })
    }

    /// Whether a monitor found `rsc_id` not running on `node_name` after
    /// `than`.
    fn monitor_not_running_after(
        &self,
        rsc_id: &str,
        node_name: &str,
        than: &LrmOp,
        same_node: bool,
    ) -> bool {
        self.find_lrm_op(rsc_id, "monitor", node_name, None, Some(7))
            .is_some_and(|m| newer_op(m, than, same_node) == std::cmp::Ordering::Greater)
    }

    /// Whether `rsc_id` has a newer state on `node_name` than the migration
    /// events (compared with the event recorded on that node if any).
    fn newer_state_after_migrate(
        &self,
        rsc_id: &str,
        node_name: &str,
        migrate_to: Option<&LrmOp>,
        migrate_from: Option<&LrmOp>,
    ) -> bool {
        let Some(mut op) = migrate_from.or(migrate_to) else {
            return false;
        };
        let source = op.attr("migrate_source");
        let target = op.attr("migrate_target");
        let mut same_node = false;
        let eq = |a: Option<&str>| a.is_some_and(|a| a.eq_ignore_ascii_case(node_name));
        if eq(target) {
            if let Some(mf) = migrate_from {
                op = mf;
                same_node = true;
            } else if let Some(mt) = migrate_to {
                op = mt;
            }
        } else if eq(source) {
            if let Some(mt) = migrate_to {
                op = mt;
                same_node = true;
            } else if let Some(mf) = migrate_from {
                op = mf;
            }
        }
        self.non_monitor_after(rsc_id, node_name, op, same_node)
            || self.monitor_not_running_after(rsc_id, node_name, op, same_node)
    }

    fn migrate_to_success(&self, ws: &mut WorkingSet, rsc: RscId, node: NodeId, op: &LrmOp) {
        let (Some(source), Some(target)) = (op.attr("migrate_source"), op.attr("migrate_target"))
        else {
            return;
        };
        if source != ws.nodes[node].name {
            return;
        }
        let id = ws.rscs[rsc].id.clone();
        let source_newer_op = self.non_monitor_after(&id, source, op, true);
        let migrate_from = self.find_lrm_op(&id, "migrate_from", target, Some(source), None);
        if source_newer_op && migrate_from.is_some() {
            return;
        }
        let target_newer_state =
            self.newer_state_after_migrate(&id, target, Some(op), migrate_from);
        if source_newer_op && target_newer_state {
            return;
        }
        ws.rscs[rsc].role = Role::Started;
        let target_node = ws.find_node(target);
        let source_node = ws.find_node(source);
        let online = |ws: &WorkingSet, n: Option<NodeId>| n.filter(|&n| ws.nodes[n].online);
        match migrate_from {
            Some(mf) if mf.rc_code() == 0 && mf.op_status() == 0 => {
                // Both halves succeeded: only a stop on the source is missing.
                ws.rscs[rsc].role = Role::Stopped;
                ws.rscs[rsc].dangling_migrations.insert(0, node);
            }
            Some(mf) if mf.op_status() != -1 => {
                // migrate_from failed.
                match online(ws, target_node) {
                    Some(t) if !target_newer_state => add_running(ws, rsc, t, true),
                    _ => {
                        ws.rscs[rsc].failed = true;
                        ws.rscs[rsc].stop_flag = true;
                        ws.rscs[rsc].allow_migrate = false;
                    }
                }
            }
            _ => match online(ws, target_node) {
                // Pending, or never recorded: a partial migration.
                Some(t) if !target_newer_state => {
                    add_running(ws, rsc, t, false);
                    if let Some(s) = online(ws, source_node) {
                        ws.rscs[rsc].partial_migration = Some((s, t));
                    }
                }
                _ => {
                    if !source_newer_op {
                        ws.rscs[rsc].failed = true;
                        ws.rscs[rsc].stop_flag = true;
                        ws.rscs[rsc].allow_migrate = false;
                    }
                }
            },
        }
    }

    /// After a failed migrate_to or migrate_from (the failure itself is
    /// handled like any other).
    fn migration_failure(
        &self,
        ws: &mut WorkingSet,
        rsc: RscId,
        node: NodeId,
        task: &str,
        op: &LrmOp,
    ) {
        if task != "migrate_to" && task != "migrate_from" {
            return;
        }
        let (Some(source), Some(target)) = (op.attr("migrate_source"), op.attr("migrate_target"))
        else {
            return;
        };
        let id = ws.rscs[rsc].id.clone();
        ws.rscs[rsc].role = Role::Started;
        if task == "migrate_to" {
            if source != ws.nodes[node].name {
                return;
            }
            let from = self.find_lrm_op(&id, "migrate_from", target, Some(source), Some(0));
            if !self.unknown_on_node(&id, target)
                && !self.newer_state_after_migrate(&id, target, Some(op), from)
            {
                if let Some(t) = ws.find_node(target).filter(|&t| ws.nodes[t].online) {
                    add_running(ws, rsc, t, false);
                }
            } else if !self.non_monitor_after(&id, source, op, true) {
                ws.rscs[rsc].dangling_migrations.insert(0, node);
            }
        } else {
            if target != ws.nodes[node].name {
                return;
            }
            let to = self.find_lrm_op(&id, "migrate_to", source, Some(target), Some(0));
            if !self.unknown_on_node(&id, source)
                && !self.newer_state_after_migrate(&id, source, to, Some(op))
            {
                if let Some(s) = ws.find_node(source).filter(|&s| ws.nodes[s].online) {
                    add_running(ws, rsc, s, true);
                }
            }
        }
    }

    fn create_orphan(&mut self, ws: &mut WorkingSet, lr: &LrmResource) -> RscId {
        let mut rsc = Rsc::new(lr.id(), Variant::Primitive);
        rsc.class = lr.attr("class").unwrap_or_default().to_string();
        rsc.provider = lr.attr("provider").map(str::to_string);
        rsc.agent = lr.attr("type").unwrap_or_default().to_string();
        rsc.orphan = true;
        rsc.configured = false;
        let mut defaults = BTreeMap::new();
        let ctx = RuleCtx {
            node_attrs: None,
            now: ws.options.now,
            rsc_agent: None,
            op: None,
        };
        resolve_sets(&meta_sets(&self.cib.rsc_defaults), &ctx, &mut defaults);
        rsc.meta = defaults;
        self.apply_meta(ws, &mut rsc);
        if !ws.options.stop_orphan_resources {
            rsc.managed = false;
        }
        if rsc.fence_device {
            ws.options.have_stonith_resource = true;
        }
        let id = ws.rscs.len();
        let stop_orphans = ws.options.stop_orphan_resources;
        ws.rscs.push(rsc);
        self.rsc_by_id.insert(lr.id().to_string(), id);
        ws.top.push(id);
        if ws.options.symmetric {
            add_location(ws, id, None, 0);
        }
        if stop_orphans {
            add_location(ws, id, None, -INFINITY);
        }
        crate::remote_status::orphaned_connection(ws, id);
        id
    }

    fn unpack_lrm_resource(&mut self, ws: &mut WorkingSet, node: NodeId, lr: &LrmResource) {
        if lr.ops.is_empty() {
            return;
        }
        let child = crate::remote_status::bundle_child_on(ws, node, lr.id());
        let rsc = match child.or_else(|| self.find_resource(ws, node, lr)) {
            Some(r) => r,
            None if self.belongs_to_bundle(lr.id()) => return,
            None => {
                if self
                    .rsc_by_id
                    .get(lr.id())
                    .is_some_and(|&r| ws.rscs[r].variant != Variant::Primitive)
                {
                    return;
                }
                self.create_orphan(ws, lr)
            }
        };
        let saved_role = ws.rscs[rsc].role;
        ws.rscs[rsc].role = Role::Unknown;
        let mut ops: Vec<&LrmOp> = lr.ops.iter().collect();
        ops.reverse();
        ops.sort_by(|a, b| cmp_ops(a, b));
        let mut ctx = OpCtx {
            on_fail: OnFail::Ignore,
            last_failure: None,
        };
        if ws.options.shutdown_lock {
            unpack_shutdown_lock(ws, rsc, node, lr);
        }
        for op in &ops {
            self.unpack_rsc_op(ws, rsc, node, op, &mut ctx);
        }
        ws.histories.push((
            lr.id().to_string(),
            node,
            ops.iter().map(|o| (*o).clone()).collect(),
        ));
        ws.history_agents
            .push(["class", "provider", "type"].map(|k| lr.attr(k).map(str::to_string)));
        process_rsc_state(ws, rsc, node, ctx.on_fail);
        if let Some(tr) = ws.rscs[rsc].target_role {
            let nr = ws.rscs[rsc].next_role;
            if nr == Role::Unknown || tr < nr {
                ws.rscs[rsc].next_role = tr;
            }
        }
        if saved_role > ws.rscs[rsc].role {
            ws.rscs[rsc].role = saved_role;
        }
    }

    fn unpack_rsc_op(
        &mut self,
        ws: &mut WorkingSet,
        rsc: RscId,
        node: NodeId,
        op: &LrmOp,
        ctx: &mut OpCtx,
    ) {
        let task = op.operation().to_string();
        if task == "notify" || task == "meta-data" {
            return;
        }
        let mut rc = op.rc_code();
        let mut status = op.op_status();
        let interval = op.interval_ms();
        let target_rc = op.target_rc().unwrap_or(-1);
        if !(-1..=11).contains(&status) {
            return;
        }
        let parent = if ws.rscs[rsc].unique {
            rsc
        } else {
            ws.uber_parent(rsc)
        };
        let is_probe = task == "monitor" && interval == 0;
        let expired = status != 7 && self.op_expired(ws, rsc, node, op, rc);
        if status != 7
            && !expired
            && interval == 0
            && (task == "start" || task == "monitor")
            && op.id().ends_with("_last_failure_0")
        {
            ws.last_failure_checks.push((rsc, node, op.clone()));
        }
        let old_rc = rc;
        // Degraded monitor results count as their healthy equivalents.
        if task == "monitor" {
            if rc == 190 {
                rc = 0;
            } else if rc == 191 {
                rc = 8;
            }
        }
        // A probe that found the agent missing or misconfigured is treated
        // as "not running" (and bans the node).
        let maskable = is_probe && (old_rc == 5 || old_rc == 2 || status == 7);
        if maskable {
            status = 0;
            rc = 7;
        }
        if status == 0 || status == 4 {
            status = if target_rc < 0 || target_rc != rc {
                4
            } else {
                0
            };
            match rc {
                0 => {
                    if is_probe && target_rc == 7 {
                        status = 0;
                    }
                }
                7 => {
                    if is_probe || target_rc == rc || !ws.rscs[rsc].managed {
                        status = 0;
                        ws.rscs[rsc].role = Role::Stopped;
                        ctx.on_fail = OnFail::Ignore;
                        ws.rscs[rsc].next_role = Role::Unknown;
                    }
                }
                8 => {
                    if is_probe && rc != target_rc {
                        status = 0;
                    }
                    ws.rscs[rsc].role = Role::Promoted;
                }
                9 => {
                    ws.rscs[rsc].role = Role::Promoted;
                    status = 4;
                }
                6 => status = 6,
                3 => {
                    if interval == 0 {
                        check_recoverable(ws, rsc, node, &task);
                        status = 5;
                    } else {
                        status = 3;
                    }
                }
                5 | 2 | 4 => {
                    check_recoverable(ws, rsc, node, &task);
                    status = 5;
                }
                _ => {
                    if status == 0 {
                        status = 4;
                    }
                }
            }
        }
        if expired && maskable && old_rc != target_rc {
            if ws.rscs[rsc].role <= Role::Stopped {
                ws.rscs[rsc].role = Role::Unknown;
            }
            return;
        } else if expired
            && rc != target_rc
            && (interval == 0 || (ws.nodes[node].online && !ws.nodes[node].unclean))
        {
            return;
        }
        if maskable {
            update_resource_state(ws, rsc, node, &task, target_rc.max(0), op, ctx);
            add_location(ws, parent, Some(node), -INFINITY);
            return;
        }
        match status {
            1 => return,
            -1 => {
                if task == "start" {
                    ws.rscs[rsc].start_pending = true;
                    if ws.rscs[rsc].role < Role::Started {
                        ws.rscs[rsc].role = Role::Started;
                    }
                } else if task == "promote" {
                    ws.rscs[rsc].role = Role::Promoted;
                }
                if ws.rscs[rsc].pending_task.is_none() && (interval != 0 || task != "monitor") {
                    ws.rscs[rsc].pending_task = Some((task.clone(), node));
                }
                return;
            }
            0 => {
                update_resource_state(ws, rsc, node, &task, rc, op, ctx);
                if task == "migrate_to" {
                    self.migrate_to_success(ws, rsc, node, op);
                }
                return;
            }
            7 => {
                let fs = op_on_fail(ws, rsc, &task, interval.max(0) as u64);
                if fs == OnFail::Ignore {
                    ctx.on_fail = OnFail::Migrate;
                }
                add_location(ws, parent, Some(node), -INFINITY);
                unpack_failure(ws, rsc, node, &task, rc, op, ctx, interval, is_probe);
                self.migration_failure(ws, rsc, node, &task, op);
                return;
            }
            10 | 11 => status = 5,
            _ => {}
        }
        let fs = op_on_fail(ws, rsc, &task, interval.max(0) as u64);
        if fs == OnFail::Ignore || (fs == OnFail::RestartContainer && task == "stop") {
            update_resource_state(ws, rsc, node, &task, target_rc.max(0), op, ctx);
            if task == "migrate_to" {
                self.migrate_to_success(ws, rsc, node, op);
            }
            ws.rscs[rsc].failure_ignored = true;
            // A failed stop inside a container restarts the container.
            if fs == OnFail::RestartContainer && ctx.on_fail.rank() <= OnFail::Recover.rank() {
                ctx.on_fail = fs;
            }
        } else {
            unpack_failure(ws, rsc, node, &task, rc, op, ctx, interval, is_probe);
            self.migration_failure(ws, rsc, node, &task, op);
            if status == 5 {
                add_location(ws, parent, Some(node), -INFINITY);
            } else if status == 6 {
                add_location(ws, parent, None, -INFINITY);
            }
        }
    }

    /// Has this operation's failure expired (failure-timeout elapsed and no
    /// unexpired fail count left)?
    fn op_expired(&self, ws: &WorkingSet, rsc: RscId, node: NodeId, op: &LrmOp, rc: i64) -> bool {
        let timeout = ws.rscs[rsc].failure_timeout;
        if timeout <= 0 {
            return false;
        }
        let Some(last) = op
            .attr("last-rc-change")
            .and_then(|v| v.trim().parse::<i64>().ok())
        else {
            return false;
        };
        let mut expired = ws.options.now >= last + timeout
            && !crate::remote_status::keep_failure_until_fenced(
                ws,
                rsc,
                op.operation(),
                op.interval_ms(),
            );
        if expired {
            let raw = crate::failcount::fail_count(ws, rsc, node, false);
            let effective = crate::failcount::fail_count(ws, rsc, node, true);
            if raw != 0 && effective != 0 {
                expired = false;
            }
        }
        if expired
            && op.interval_ms() == 0
            && op.operation() == "monitor"
            && matches!(rc, 0 | 7 | 8 | 190 | 191)
        {
            expired = false;
        }
        expired
    }
}

impl Rsc {
    fn configured_primitive_or_instance(&self) -> bool {
        true
    }
}

/// Name/value sets of a resource template (kept as raw XML in the model).
fn template_sets(tpl: &hasim_cib::Element, tag: &str) -> Vec<AttrSet> {
    tpl.children_named(tag)
        .map(|set| AttrSet {
            kind: match tag {
                "meta_attributes" => hasim_cib::SetKind::Meta,
                "utilization" => hasim_cib::SetKind::Utilization,
                _ => hasim_cib::SetKind::Instance,
            },
            id: set.attr("id").map(str::to_string),
            score: set.attr("score").map(str::to_string),
            rule: None,
            nvpairs: set
                .children_named("nvpair")
                .filter_map(|nv| {
                    Some(hasim_cib::NvPair {
                        id: nv.attr("id").map(str::to_string),
                        name: nv.attr("name")?.to_string(),
                        value: nv.attr("value").map(str::to_string),
                    })
                })
                .collect(),
        })
        .collect()
}

fn template_ops(tpl: &hasim_cib::Element) -> Vec<OpDef> {
    tpl.children_named("operations")
        .flat_map(|ops| ops.children_named("op"))
        .map(|op| OpDef {
            attrs: op.attrs.clone(),
            sets: template_sets(op, "instance_attributes"),
        })
        .collect()
}

fn find_config<'a>(r: &'a Resource, id: &str) -> Option<&'a Resource> {
    if r.id == id {
        return Some(r);
    }
    match &r.kind {
        ResourceKind::Group { children } => children.iter().find_map(|c| find_config(c, id)),
        ResourceKind::Clone { child, .. } => find_config(child, id),
        _ => None,
    }
}

/// A utilization value (invalid ones count as 0).
pub fn utilization_value(v: &str) -> i32 {
    v.trim().parse::<i32>().unwrap_or(0)
}

fn cmp_ops(a: &LrmOp, b: &LrmOp) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    let (ca, cb) = (a.call_id(), b.call_id());
    if ca == -1 && cb == -1 {
        return Ordering::Equal;
    }
    if ca == -1 {
        return Ordering::Greater;
    }
    if cb == -1 {
        return Ordering::Less;
    }
    if ca != cb {
        return ca.cmp(&cb);
    }
    a.last_rc_change().cmp(&b.last_rc_change())
}

/// Pacemaker's pe__is_newer_op: whether `a` happened after `b` (call ids on
/// the same node, otherwise the last change times; pending entries are
/// compared as equal).
fn newer_op(a: &LrmOp, b: &LrmOp, same_node_default: bool) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    let same_node = match (a.attr("on_node"), b.attr("on_node")) {
        (Some(x), Some(y)) => x.eq_ignore_ascii_case(y),
        _ => same_node_default,
    };
    if same_node && a.attr("id") == b.attr("id") {
        return Ordering::Equal;
    }
    let (ca, cb) = (a.call_id(), b.call_id());
    if ca == -1 && cb == -1 {
        Ordering::Equal
    } else if same_node && ca >= 0 && ca < cb {
        Ordering::Less
    } else if same_node && cb >= 0 && ca > cb {
        Ordering::Greater
    } else if ca >= 0 && cb >= 0 && (!same_node || ca == cb) {
        let la = a
            .attr("last-rc-change")
            .and_then(|v| v.parse::<i64>().ok())
            .unwrap_or(-1);
        let lb = b
            .attr("last-rc-change")
            .and_then(|v| v.parse::<i64>().ok())
            .unwrap_or(-1);
        if la >= 0 && la < lb {
            Ordering::Less
        } else if lb >= 0 && la > lb {
            Ordering::Greater
        } else {
            Ordering::Equal
        }
    } else {
        Ordering::Equal
    }
}

/// The configured on-fail policy for an operation.
pub fn op_on_fail(ws: &WorkingSet, rsc: RscId, task: &str, interval_ms: u64) -> OnFail {
    let r = &ws.rscs[rsc];
    let mut value: Option<String> = None;
    for op in r.ops.iter() {
        if op.name() == task
            && parse_interval_ms(op.attr("interval").unwrap_or("0")) == Some(interval_ms)
        {
            value = op.attr("on-fail").map(str::to_string);
            break;
        }
    }
    if value.is_none() {
        value = op_default(ws, "on-fail");
    }
    if task == "stop"
        && value
            .as_deref()
            .is_some_and(|v| matches!(v, "standby" | "demote" | "stop"))
    {
        value = None;
    }
    if task == "demote" && value.is_none() {
        // A promoted-role recurring monitor's on-fail applies to demote too.
        for op in r.ops.iter() {
            let role = op.attr("role").unwrap_or("");
            if op.name() == "monitor"
                && (role.eq_ignore_ascii_case("promoted") || role.eq_ignore_ascii_case("master"))
                && parse_interval_ms(op.attr("interval").unwrap_or("0")).unwrap_or(0) > 0
            {
                if let Some(v) = op.attr("on-fail") {
                    if v != "demote" {
                        value = Some(v.to_string());
                        break;
                    }
                }
            }
        }
    }
    let lowered = value.as_deref().map(str::to_ascii_lowercase);
    let configured = match lowered.as_deref() {
        Some("restart-container") => crate::remote_status::has_container(ws, rsc),
        Some(v) => matches!(
            v,
            "block"
                | "fence"
                | "standby"
                | "ignore"
                | "nothing"
                | "migrate"
                | "stop"
                | "restart"
                | "demote"
        ),
        None => false,
    };
    if let Some(d) = crate::remote_status::default_on_fail(ws, rsc, task, interval_ms, configured) {
        return d;
    }
    let policy = match lowered.as_deref() {
        Some("block") => OnFail::Block,
        Some("fence") if ws.options.stonith_enabled => OnFail::Fence,
        // Fencing is impossible: Pacemaker resets on-fail=fence to stop.
        Some("fence") => OnFail::Stop,
        Some("standby") => OnFail::Standby,
        Some("ignore") | Some("nothing") => OnFail::Ignore,
        Some("migrate") => OnFail::Migrate,
        Some("stop") => OnFail::Stop,
        Some("restart") => OnFail::Recover,
        Some("demote") => OnFail::Demote,
        Some("restart-container") if crate::remote_status::has_container(ws, rsc) => {
            OnFail::RestartContainer
        }
        _ => {
            if task == "stop" {
                if ws.options.stonith_enabled {
                    OnFail::Fence
                } else {
                    OnFail::Block
                }
            } else {
                OnFail::Recover
            }
        }
    };
    if policy == OnFail::Fence && task == "stop" && !ws.options.stonith_enabled {
        return OnFail::Block;
    }
    policy
}

fn op_default(ws: &WorkingSet, _name: &str) -> Option<String> {
    let _ = ws;
    None
}

fn update_resource_state(
    ws: &mut WorkingSet,
    rsc: RscId,
    _node: NodeId,
    task: &str,
    rc: i64,
    op: &LrmOp,
    ctx: &mut OpCtx,
) {
    let mut clear = false;
    let r = &mut ws.rscs[rsc];
    if rc == 5 || mask_probe_failure(op) {
        r.role = Role::Stopped;
    } else if rc == 7 {
        clear = true;
    } else if task == "monitor" {
        if let Some(lf) = &ctx.last_failure {
            if op_key(op) == *lf {
                clear = true;
            }
        }
        if r.role < Role::Started {
            r.role = Role::Started;
        }
    } else if task == "start" {
        r.role = Role::Started;
        clear = true;
    } else if task == "stop" {
        r.role = Role::Stopped;
        clear = true;
    } else if task == "promote" {
        r.role = Role::Promoted;
        clear = true;
    } else if task == "demote" {
        if ctx.on_fail == OnFail::Demote {
            clear = true;
        }
        r.role = Role::Unpromoted;
    } else if task == "migrate_from" {
        r.role = Role::Started;
        clear = true;
    } else if task == "migrate_to" {
        // Unpacker::migrate_to_success decides (it needs the other node's
        // history).
    } else if r.role < Role::Started {
        r.role = Role::Started;
    }
    if clear {
        match ctx.on_fail {
            OnFail::Stop | OnFail::Fence | OnFail::Migrate | OnFail::Standby => {}
            _ => {
                ctx.on_fail = OnFail::Ignore;
                r.next_role = Role::Unknown;
            }
        }
    }
}

/// A stop that failed hard where fencing is impossible leaves no way to
/// recover: the resource becomes unmanaged and blocked.
fn check_recoverable(ws: &mut WorkingSet, rsc: RscId, node: NodeId, task: &str) {
    if task != "stop" || crate::graph::can_fence(ws, node) {
        return;
    }
    ws.rscs[rsc].managed = false;
    ws.rscs[rsc].block = true;
}

/// A probe whose failure means "the agent cannot run here" (not installed
/// or misconfigured); Pacemaker treats it as "not running".
fn mask_probe_failure(op: &LrmOp) -> bool {
    op.operation() == "monitor"
        && op.interval_ms() == 0
        && (op.rc_code() == 5 || op.rc_code() == 2 || op.op_status() == 7)
}

fn op_key(op: &LrmOp) -> String {
    op.attr("operation_key")
        .map(str::to_string)
        .unwrap_or_else(|| format!("{}_{}", op.operation(), op.interval_ms()))
}

#[allow(clippy::too_many_arguments)]
fn unpack_failure(
    ws: &mut WorkingSet,
    rsc: RscId,
    node: NodeId,
    task: &str,
    rc: i64,
    op: &LrmOp,
    ctx: &mut OpCtx,
    interval: i64,
    is_probe: bool,
) {
    ctx.last_failure = Some(op_key(op));
    let on_fail = op_on_fail(ws, rsc, task, interval.max(0) as u64);
    if ctx.on_fail.rank() < on_fail.rank() {
        ctx.on_fail = on_fail;
    }
    match task {
        "stop" => add_location(ws, rsc, Some(node), -INFINITY),
        "promote" => ws.rscs[rsc].role = Role::Promoted,
        "demote" => {
            if on_fail == OnFail::Block {
                ws.rscs[rsc].role = Role::Promoted;
                ws.rscs[rsc].next_role = Role::Stopped;
            } else if rc == 7 {
                ws.rscs[rsc].role = Role::Stopped;
            } else {
                ws.rscs[rsc].role = Role::Unpromoted;
            }
        }
        _ => {}
    }
    if is_probe && rc == 5 {
        ws.rscs[rsc].role = Role::Stopped;
    } else if ws.rscs[rsc].role < Role::Started {
        ws.rscs[rsc].role = Role::Started;
    }
    // The role a failed resource is left in: Stopped for on-fail=stop,
    // Unpromoted after a failed promote, otherwise Started.
    let reconnect_stop = on_fail == OnFail::ResetRemote && ws.links.reconnect_ms.contains_key(&rsc);
    let fail_role = if on_fail == OnFail::Stop || reconnect_stop {
        Role::Stopped
    } else if task == "promote" {
        Role::Unpromoted
    } else {
        Role::Started
    };
    if fail_role != Role::Started && ws.rscs[rsc].next_role < fail_role {
        ws.rscs[rsc].next_role = fail_role;
    }
    if fail_role == Role::Stopped {
        let top = ws.uber_parent(rsc);
        let target = if ws.rscs[top].variant == Variant::Clone && !ws.rscs[top].unique {
            top
        } else {
            rsc
        };
        for n in 0..ws.nodes.len() {
            ws.rscs[target].allowed.insert(n, Score::NEG_INFINITY);
        }
    }
}

fn process_rsc_state(ws: &mut WorkingSet, rsc: RscId, node: NodeId, mut on_fail: OnFail) {
    let role = ws.rscs[rsc].role;
    if role != Role::Unknown {
        let mut it = Some(rsc);
        while let Some(r) = it {
            ws.rscs[r].known_on.insert(node);
            if ws.rscs[r].unique {
                break;
            }
            it = ws.rscs[r].parent;
        }
    }
    let n = &ws.nodes[node];
    if role > Role::Stopped && !n.online && !n.maintenance && ws.rscs[rsc].managed {
        if let Some(reason) = crate::remote_status::offline_active_reason(ws, rsc, node) {
            fence_node(ws, node, &reason);
        }
    }
    let save = on_fail;
    if ws.nodes[node].unclean {
        on_fail = OnFail::Ignore;
    }
    match on_fail {
        OnFail::Demote => {
            // A required demote where it failed; if the instance is promoted
            // there again, that is a re-promotion.
            ws.rscs[rsc].failed = true;
            crate::graph::custom_action(ws, rsc, "demote", Some(node), false);
        }
        OnFail::Fence => {
            let reason = format!("{} failed there", ws.rscs[rsc].id);
            fence_node(ws, node, &reason);
        }
        OnFail::Standby => {
            ws.nodes[node].standby = true;
            ws.nodes[node].standby_onfail = true;
        }
        OnFail::Block => {
            ws.rscs[rsc].managed = false;
            ws.rscs[rsc].block = true;
        }
        OnFail::Migrate => add_location(ws, rsc, Some(node), -INFINITY),
        OnFail::Stop => ws.rscs[rsc].next_role = Role::Stopped,
        OnFail::Recover => {
            let role = ws.rscs[rsc].role;
            if role != Role::Stopped && role != Role::Unknown {
                ws.rscs[rsc].failed = true;
                ws.rscs[rsc].stop_flag = true;
                // Pacemaker schedules the stop here; on a remote node whose
                // connection is down it is unrunnable, which fences the node.
                crate::remote_status::early_stop(ws, rsc, node);
            }
        }
        OnFail::RestartContainer => {
            ws.rscs[rsc].failed = true;
            ws.rscs[rsc].stop_flag = true;
            if let Some(&c) = ws.links.container.get(&rsc) {
                crate::graph::custom_action(ws, c, "stop", Some(node), false);
            }
        }
        OnFail::ResetRemote => {
            ws.rscs[rsc].failed = true;
            ws.rscs[rsc].stop_flag = true;
            crate::remote_status::reset_remote(ws, rsc);
        }
        OnFail::Ignore => {}
    }
    crate::remote_status::failed_connection_seen(ws, rsc);
    let role = ws.rscs[rsc].role;
    if role != Role::Stopped && role != Role::Unknown {
        add_running(ws, rsc, node, save != OnFail::Ignore);
        match on_fail {
            OnFail::Ignore => {}
            OnFail::Demote | OnFail::Block => ws.rscs[rsc].failed = true,
            _ => {
                ws.rscs[rsc].failed = true;
                ws.rscs[rsc].stop_flag = true;
            }
        }
    }
}

/// Record a resource as active on a node (Pacemaker's native_add_running).
fn add_running(ws: &mut WorkingSet, rsc: RscId, node: NodeId, _failed: bool) {
    if ws.rscs[rsc].running_on.contains(&node) {
        return;
    }
    ws.rscs[rsc].running_on.push(node);
    if ws.rscs[rsc].variant == Variant::Primitive && ws.nodes[node].maintenance {
        ws.rscs[rsc].managed = false;
        ws.rscs[rsc].maintenance = true;
    }
    if !ws.rscs[rsc].managed {
        // Unmanaged resources stay where they are.
        add_location(ws, rsc, Some(node), INFINITY);
        let mut p = ws.rscs[rsc].parent;
        while let (Some(q), true) = (p, ws.nodes[node].online) {
            if !ws.rscs[q].running_on.contains(&node) {
                ws.rscs[q].running_on.push(node);
            }
            p = ws.rscs[q].parent;
        }
        return;
    }
    let active = if ws.rscs[rsc].needs_fencing {
        ws.rscs[rsc].running_on.len()
    } else {
        ws.rscs[rsc]
            .running_on
            .iter()
            .filter(|&&n| ws.nodes[n].online && !ws.nodes[n].unclean)
            .count()
    };
    // Only primitives are multiply active (Pacemaker's is_multiply_active):
    // a clone running on several nodes is not.
    if active > 1 && ws.rscs[rsc].variant == Variant::Primitive {
        match ws.rscs[rsc].meta.get("multiple-active").map(String::as_str) {
            Some("stop_only") => {
                // Make sure it does not come up again anywhere.
                ws.rscs[rsc].allowed = (0..ws.nodes.len())
                    .map(|n| (n, Score::NEG_INFINITY))
                    .collect();
            }
            Some("block") => {
                ws.rscs[rsc].managed = false;
                ws.rscs[rsc].block = true;
                if let Some(p) = ws.rscs[rsc].parent {
                    if ws.rscs[p].variant == Variant::Group
                        && ws.rscs[p]
                            .meta
                            .get("multiple-active")
                            .is_some_and(|v| v == "block")
                    {
                        for c in ws.rscs[p].children.clone() {
                            ws.rscs[c].managed = false;
                            ws.rscs[c].block = true;
                        }
                    }
                }
            }
            _ => {}
        }
    }
    if let Some(p) = ws.rscs[rsc].parent {
        add_running(ws, p, node, false);
    }
}

fn determine_online_status(ws: &mut WorkingSet, n: NodeId, ns: &hasim_cib::NodeState) {
    let node_attr = |k: &str| ns.attr(k);
    let exp_state = node_attr("expected");
    let shutdown_attr = ws.nodes[n].attrs.get("shutdown").cloned();
    ws.nodes[n].shutdown = shutdown_attr
        .as_deref()
        .is_some_and(|v| v != "0" && !v.is_empty());
    ws.nodes[n].expected_up =
        !ws.nodes[n].shutdown && exp_state.is_some_and(|e| e.eq_ignore_ascii_case("member"));
    let online = if ws.nodes[n].node_type == "ping" {
        ws.nodes[n].unclean = false;
        false
    } else if !ws.options.stonith_enabled {
        online_no_fencing(ws, n, ns)
    } else {
        online_fencing(ws, n, ns)
    };
    if online {
        ws.nodes[n].online = true;
    } else {
        ws.nodes[n].weight = Score::NEG_INFINITY;
    }
    if online && ws.nodes[n].shutdown {
        ws.nodes[n].weight = Score::NEG_INFINITY;
    }
}

fn online_no_fencing(ws: &mut WorkingSet, n: NodeId, ns: &hasim_cib::NodeState) -> bool {
    let join = ns.attr("join");
    let is_peer = ns.attr("crmd");
    let in_cluster = ns.attr("in_ccm");
    if !in_cluster.is_some_and(is_true) {
        false
    } else if is_peer.is_some_and(|p| p.eq_ignore_ascii_case("online")) {
        join.is_some_and(|j| j.eq_ignore_ascii_case("member"))
    } else if !ws.nodes[n].expected_up {
        false
    } else {
        fence_node(ws, n, "peer is unexpectedly down");
        false
    }
}

fn online_fencing(ws: &mut WorkingSet, n: NodeId, ns: &hasim_cib::NodeState) -> bool {
    let join = ns.attr("join");
    let is_peer = ns.attr("crmd");
    let in_cluster = ns.attr("in_ccm");
    let exp_state = ns.attr("expected").unwrap_or("down");
    let terminate = ws.nodes[n].attrs.get("terminate").cloned();
    let do_terminate = match terminate.as_deref() {
        Some(t) if is_true(t) => true,
        Some(t) => t
            .chars()
            .next()
            .is_some_and(|c| c != '0' && c.is_ascii_digit()),
        None => false,
    };
    let mut online = in_cluster.is_some_and(is_true);
    let crmd_online = is_peer.is_some_and(|p| p.eq_ignore_ascii_case("online"));
    let in_true = in_cluster.is_some_and(is_true);
    if ws.nodes[n].shutdown {
        online = crmd_online;
    } else if in_cluster.is_none() {
        fence_node(ws, n, "peer has not been seen by the cluster");
    } else if join.is_some_and(|j| j.eq_ignore_ascii_case("banned")) {
        fence_node(ws, n, "peer failed Pacemaker membership criteria");
    } else if !do_terminate && exp_state.eq_ignore_ascii_case("down") {
        if in_true || crmd_online {
            ws.nodes[n].standby = true;
            ws.nodes[n].pending = true;
        }
    } else if do_terminate
        && join.is_some_and(|j| j.eq_ignore_ascii_case("down"))
        && !in_true
        && !crmd_online
    {
        online = false;
    } else if !in_true {
        if !ws.nodes[n].unclean {
            ws.lost_members.insert(n);
        }
        fence_node(ws, n, "peer is no longer part of the cluster");
    } else if !crmd_online {
        fence_node(ws, n, "peer process is no longer available");
    } else if do_terminate {
        fence_node(ws, n, "termination was requested");
    } else if join.is_some_and(|j| j.eq_ignore_ascii_case("member")) {
    } else if join
        .is_some_and(|j| j.eq_ignore_ascii_case("pending") || j.eq_ignore_ascii_case("down"))
    {
        ws.nodes[n].standby = true;
        ws.nodes[n].pending = true;
    } else {
        fence_node(ws, n, "peer was in an unknown state");
    }
    online
}

/// Attribute sets of an operation definition (kept for digests later).
pub fn op_sets(op: &OpDef) -> usize {
    op.sets.len()
}
