//! Unpacking location, colocation and ordering constraints into the
//! working set, and applying location scores.

use hasim_cib::{Cib, Constraint, ResourceSet, Score, INFINITY};

use crate::rules::{eval_rule, is_true, RuleCtx};
use crate::ws::*;

/// A location constraint resolved to per-node scores.
#[derive(Debug, Clone)]
pub struct Location {
    pub rsc: RscId,
    pub role_filter: Role,
    pub scores: Vec<(NodeId, Score)>,
    pub discover: Discover,
}

/// The constraint's resource-discovery attribute (unknown values mean
/// always, as Pacemaker treats them after warning).
fn discover_of(c: &Constraint) -> Discover {
    match c.attr("resource-discovery") {
        Some(v) if v.eq_ignore_ascii_case("never") => Discover::Never,
        Some(v) if v.eq_ignore_ascii_case("exclusive") => Discover::Exclusive,
        _ => Discover::Always,
    }
}

fn find_rsc(ws: &WorkingSet, id: &str) -> Option<RscId> {
    // Configured (non-instance) resources only; clone instances are found by
    // their clone.
    ws.rscs
        .iter()
        .position(|r| r.id == id && (r.parent.is_none() || !ws.is_clone(r.parent.unwrap_or(0))))
}

fn role_of(v: Option<&str>) -> Role {
    match v {
        None => Role::Unknown,
        Some(s) if s.eq_ignore_ascii_case("started") => Role::Unknown,
        Some(s) => Role::parse(s).unwrap_or(Role::Unknown),
    }
}

/// Unpack all constraints; returns the location constraints (applied later).
pub fn unpack(cib: &Cib, ws: &mut WorkingSet) -> Vec<Location> {
    let mut locations = Vec::new();
    let tags = Tags::new(cib);
    for c in &cib.constraints {
        let expanded = match expand_tags(ws, &tags, c) {
            Expanded::Unchanged => None,
            Expanded::Sets(x) => Some(x),
            Expanded::Ignored => continue,
        };
        let c = expanded.as_ref().unwrap_or(c);
        match c {
            Constraint::Location { rules, sets, .. } => {
                unpack_location(ws, c, rules, sets, &mut locations)
            }
            Constraint::Colocation { sets, .. } => unpack_colocation(ws, c, sets),
            Constraint::Order { sets, .. } => unpack_order(ws, c, sets),
            Constraint::Ticket { sets, .. } => unpack_ticket(cib, ws, c, sets),
        }
    }
    locations
}

fn node_attrs_ctx(ws: &WorkingSet, n: NodeId) -> RuleCtx<'_> {
    RuleCtx {
        node_attrs: Some(&ws.nodes[n].attrs),
        now: ws.options.now,
        rsc_agent: None,
        op: None,
    }
}

/// What constraints may name instead of a resource: templates (standing
/// for the primitives derived from them) and tags (for the objects they
/// reference), as Pacemaker's template and tag tables hold them. A template
/// no primitive uses and a tag without references name nothing.
pub(crate) struct Tags {
    entries: Vec<(String, Vec<String>)>,
}

impl Tags {
    pub(crate) fn new(cib: &Cib) -> Tags {
        fn add(entries: &mut Vec<(String, Vec<String>)>, key: &str, member: &str) {
            match entries.iter_mut().find(|(k, _)| k == key) {
                Some((_, refs)) => {
                    if !refs.iter().any(|r| r == member) {
                        refs.push(member.to_string());
                    }
                }
                None => entries.push((key.to_string(), vec![member.to_string()])),
            }
        }
        fn derived(r: &hasim_cib::Resource, out: &mut Vec<(String, Vec<String>)>) {
            use hasim_cib::ResourceKind as K;
            match &r.kind {
                K::Primitive {
                    template: Some(t), ..
                } if *t != r.id => add(out, t, &r.id),
                K::Primitive { .. } => {}
                K::Group { children } => children.iter().for_each(|c| derived(c, out)),
                K::Clone { child, .. } => derived(child, out),
                K::Bundle { child, .. } => {
                    if let Some(c) = child {
                        derived(c, out)
                    }
                }
            }
        }
        let mut templates = Vec::new();
        cib.resources
            .iter()
            .for_each(|r| derived(r, &mut templates));
        let mut tags = Vec::new();
        for tag in cib
            .other_config
            .iter()
            .filter(|section| section.name == "tags")
            .flat_map(|section| section.children_named("tag"))
        {
            let Some(id) = tag.attr("id") else { continue };
            for r in tag.children_named("obj_ref").filter_map(|r| r.attr("id")) {
                add(&mut tags, id, r);
            }
        }
        // Templates are looked up first; a template nothing derives from
        // hides a tag of the same name.
        let unused: Vec<(String, Vec<String>)> = cib
            .templates
            .iter()
            .filter_map(|t| t.attr("id"))
            .filter(|id| !templates.iter().any(|(k, _)| k == id))
            .map(|id| (id.to_string(), Vec::new()))
            .collect();
        let mut entries = templates;
        entries.extend(unused);
        for (k, v) in tags {
            if !entries.iter().any(|(e, _)| *e == k) {
                entries.push((k, v));
            }
        }
        Tags { entries }
    }

    /// The members `id` stands for, if it names a template or tag with any.
    fn members(&self, id: &str) -> Option<&[String]> {
        self.entries
            .iter()
            .find(|(k, _)| k == id)
            .map(|(_, v)| v.as_slice())
            .filter(|v| !v.is_empty())
    }
}

/// What a constraint becomes once its template and tag references are
/// expanded (Pacemaker's unpack_*_tags).
enum Expanded {
    /// Nothing to expand.
    Unchanged,
    /// The equivalent constraint with resource sets.
    Sets(Constraint),
    /// The constraint is ignored (a configuration error).
    Ignored,
}

enum Named<'a> {
    Resource,
    Tag(&'a [String]),
    Nothing,
}

fn named<'a>(ws: &WorkingSet, tags: &'a Tags, id: &str) -> Named<'a> {
    if find_rsc(ws, id).is_some() {
        Named::Resource
    } else if let Some(m) = tags.members(id) {
        Named::Tag(m)
    } else {
        Named::Nothing
    }
}

fn with_parts(c: &Constraint, attrs: Vec<(String, String)>, sets: Vec<ResourceSet>) -> Constraint {
    match c {
        Constraint::Location { rules, .. } => Constraint::Location {
            attrs,
            rules: rules.clone(),
            sets,
        },
        Constraint::Colocation { .. } => Constraint::Colocation { attrs, sets },
        Constraint::Order { .. } => Constraint::Order { attrs, sets },
        Constraint::Ticket { .. } => Constraint::Ticket { attrs, sets },
    }
}

fn expand_tags(ws: &WorkingSet, tags: &Tags, c: &Constraint) -> Expanded {
    if !c.sets().is_empty() {
        // Tags inside sets are replaced by their members, in place.
        let mut any = false;
        let mut sets = c.sets().to_vec();
        for set in &mut sets {
            let mut refs = Vec::new();
            for id in &set.resources {
                match named(ws, tags, id) {
                    Named::Resource => refs.push(id.clone()),
                    Named::Tag(members) => {
                        any = true;
                        refs.extend(members.iter().cloned());
                    }
                    Named::Nothing => return Expanded::Unchanged,
                }
            }
            set.resources = refs;
        }
        return if any {
            Expanded::Sets(with_parts(c, c.attrs().to_vec(), sets))
        } else {
            Expanded::Unchanged
        };
    }
    // (reference attribute, attribute moved into the set, its name there)
    let (sides, convert_resources): (&[(&str, &str, &str)], bool) = match c {
        Constraint::Colocation { .. } => (
            &[
                ("rsc", "rsc-role", "role"),
                ("with-rsc", "with-rsc-role", "role"),
            ],
            true,
        ),
        Constraint::Order { .. } => (
            &[
                ("first", "first-action", "action"),
                ("then", "then-action", "action"),
            ],
            true,
        ),
        Constraint::Location { .. } => (&[("rsc", "role", "role")], false),
        Constraint::Ticket { .. } => (&[("rsc", "rsc-role", "role")], false),
    };
    let mut resolved = Vec::new();
    for (attr, _, _) in sides {
        let Some(id) = c.attr(attr) else {
            return Expanded::Unchanged;
        };
        match named(ws, tags, id) {
            Named::Nothing => return Expanded::Ignored,
            n => resolved.push((id, n)),
        }
    }
    let tagged = resolved
        .iter()
        .filter(|(_, n)| matches!(n, Named::Tag(_)))
        .count();
    if tagged == 0 {
        return Expanded::Unchanged;
    }
    if tagged == 2 && matches!(c, Constraint::Colocation { .. }) {
        // Two templates or tags cannot be colocated.
        return Expanded::Ignored;
    }
    let mut attrs = c.attrs().to_vec();
    let mut sets = Vec::new();
    for ((attr, moved, as_name), (id, n)) in sides.iter().zip(&resolved) {
        let mut set = ResourceSet {
            attrs: vec![("id".to_string(), id.to_string())],
            resources: Vec::new(),
        };
        match n {
            Named::Tag(members) => {
                set.resources = members.to_vec();
                set.attrs
                    .push(("sequential".to_string(), "false".to_string()));
            }
            _ if convert_resources => set.resources = vec![id.to_string()],
            _ => continue,
        }
        if let Some(v) = c.attr(moved) {
            set.attrs.push((as_name.to_string(), v.to_string()));
        }
        attrs.retain(|(k, _)| k != attr && k != moved);
        sets.push(set);
    }
    Expanded::Sets(with_parts(c, attrs, sets))
}

fn unpack_location(
    ws: &mut WorkingSet,
    c: &Constraint,
    rules: &[hasim_cib::Rule],
    sets: &[ResourceSet],
    out: &mut Vec<Location>,
) {
    // (resource, role, score of its set)
    let mut targets: Vec<(RscId, Option<String>, Option<&str>)> = Vec::new();
    let role = c.attr("role").or(c.attr("rsc-role"));
    if let Some(id) = c.attr("rsc") {
        if let Some(r) = find_rsc(ws, id) {
            targets.push((r, role.map(str::to_string), None));
        }
    } else if let Some(pat) = c.attr("rsc-pattern") {
        for r in 0..ws.rscs.len() {
            if ws.rscs[r].parent.is_none() && simple_regex_match(pat, &ws.rscs[r].id) {
                targets.push((r, role.map(str::to_string), None));
            }
        }
    }
    for s in sets {
        let srole = s.attr("role").or(role);
        for id in &s.resources {
            if let Some(r) = find_rsc(ws, id) {
                targets.push((r, srole.map(str::to_string), s.attr("score")));
            }
        }
    }
    let score_attr = c.attr("score");
    for (rsc, role, set_score) in targets {
        let score_attr = set_score.or(score_attr);
        let mut role_filter = role_of(role.as_deref());
        if role_filter == Role::Unpromoted {
            role_filter = Role::Unknown;
        }
        if let Some(node) = c.attr("node") {
            let Some(score) = score_attr.and_then(Score::parse) else {
                continue;
            };
            if let Some(n) = ws.find_node(node) {
                out.push(Location {
                    rsc,
                    role_filter,
                    scores: vec![(n, score)],
                    discover: discover_of(c),
                });
            }
            continue;
        }
        for rule in rules {
            let mut rf = role_filter;
            if let Some(r) = rule.role.as_deref() {
                rf = role_of(Some(r));
                if rf == Role::Unpromoted {
                    rf = Role::Unknown;
                }
            }
            let or = rule
                .boolean_op
                .as_deref()
                .is_some_and(|b| b.eq_ignore_ascii_case("or"));
            let mut scores = Vec::new();
            for n in 0..ws.nodes.len() {
                let accept = eval_rule(rule, &node_attrs_ctx(ws, n));
                let score = rule_score(ws, rule, n);
                if accept {
                    scores.push((n, if or { Score::ZERO + score } else { score }));
                }
            }
            if !scores.is_empty() {
                out.push(Location {
                    rsc,
                    role_filter: rf,
                    scores,
                    discover: discover_of(c),
                });
            }
        }
    }
}

fn rule_score(ws: &WorkingSet, rule: &hasim_cib::Rule, n: NodeId) -> Score {
    if let Some(s) = &rule.score {
        return Score::parse_or_zero(s);
    }
    if let Some(attr) = &rule.score_attribute {
        return match ws.nodes[n].attrs.get(attr) {
            Some(v) => Score::parse_or_zero(v),
            None => Score::NEG_INFINITY,
        };
    }
    Score::ZERO
}

/// A tiny regex subset for rsc-pattern: `^`, `$`, `.`, `.*` and literals.
fn simple_regex_match(pat: &str, text: &str) -> bool {
    let anchored_start = pat.starts_with('^');
    let p = pat.trim_start_matches('^');
    let anchored_end = p.ends_with('$');
    let p = p.trim_end_matches('$');
    fn m(p: &[u8], t: &[u8], end: bool) -> bool {
        if p.is_empty() {
            return !end || t.is_empty();
        }
        if p.len() >= 2 && p[1] == b'*' {
            let c = p[0];
            let mut i = 0;
            loop {
                if m(&p[2..], &t[i..], end) {
                    return true;
                }
                if i < t.len() && (c == b'.' || t[i] == c) {
                    i += 1;
                } else {
                    return false;
                }
            }
        }
        !t.is_empty() && (p[0] == b'.' || p[0] == t[0]) && m(&p[1..], &t[1..], end)
    }
    if anchored_start {
        m(p.as_bytes(), text.as_bytes(), anchored_end)
    } else {
        (0..=text.len()).any(|i| m(p.as_bytes(), &text.as_bytes()[i..], anchored_end))
    }
}

/// Apply a location constraint to a resource (recursing as Pacemaker does
/// for groups and clones).
pub fn apply_location(ws: &mut WorkingSet, rsc: RscId, loc: &Location) {
    match ws.rscs[rsc].variant {
        Variant::Primitive => apply_location_primitive(ws, rsc, loc),
        Variant::Group => {
            apply_location_primitive(ws, rsc, loc);
            let reset = ws.rscs[rsc].group_colocated;
            let zeroed = Location {
                rsc: loc.rsc,
                role_filter: loc.role_filter,
                scores: loc.scores.iter().map(|(n, _)| (*n, Score::ZERO)).collect(),
                discover: loc.discover,
            };
            for (i, c) in ws.rscs[rsc].children.clone().into_iter().enumerate() {
                if i == 0 || !reset {
                    apply_location(ws, c, loc);
                } else {
                    apply_location(ws, c, &zeroed);
                }
            }
        }
        Variant::Clone => {
            apply_location_primitive(ws, rsc, loc);
            for c in ws.rscs[rsc].children.clone() {
                apply_location(ws, c, loc);
            }
        }
    }
}

fn apply_location_primitive(ws: &mut WorkingSet, rsc: RscId, loc: &Location) {
    if loc.role_filter > Role::Unknown && loc.role_filter != ws.rscs[rsc].next_role {
        return;
    }
    for &(n, s) in &loc.scores {
        let e = ws.rscs[rsc].allowed.entry(n).or_insert(Score::ZERO);
        *e += s;
        let d = ws.rscs[rsc].discover.entry(n).or_default();
        if *d < loc.discover {
            *d = loc.discover;
            if loc.discover == Discover::Exclusive {
                ws.rscs[rsc].exclusive_discover = true;
            }
        }
    }
}

/// With exclusive discovery, a resource may run only where a location
/// enabled its discovery exclusively (Pacemaker's
/// apply_exclusive_discovery, applied per node after fail-count bans).
pub fn apply_exclusive_discovery(ws: &mut WorkingSet, rsc: RscId, n: NodeId) {
    let top = ws.uber_parent(rsc);
    if !(ws.rscs[rsc].exclusive_discover || ws.rscs[top].exclusive_discover) {
        return;
    }
    for c in ws.rscs[rsc].children.clone() {
        apply_exclusive_discovery(ws, c, n);
    }
    let mode = ws.rscs[rsc].discover.get(&n).copied().unwrap_or_default();
    if mode != Discover::Exclusive {
        if let Some(w) = ws.rscs[rsc].allowed.get_mut(&n) {
            *w = Score::NEG_INFINITY;
        }
    }
}

/// Record a colocation (Pacemaker's pcmk__new_colocation).
#[allow(clippy::too_many_arguments)]
pub fn new_colocation(
    ws: &mut WorkingSet,
    id: &str,
    node_attr: Option<&str>,
    score: i32,
    dependent: RscId,
    primary: RscId,
    dependent_role: Role,
    primary_role: Role,
    influence: bool,
) {
    if score == 0 {
        return;
    }
    let cid = ws.colocs.len();
    ws.colocs.push(Coloc {
        id: id.to_string(),
        dependent,
        primary,
        score,
        dependent_role,
        primary_role,
        node_attribute: node_attr.map(str::to_string),
        influence,
    });
    insert_sorted(ws, dependent, cid, true);
    insert_sorted(ws, primary, cid, false);
    if score <= -INFINITY {
        anti_colocation_order(ws, dependent, dependent_role, primary, primary_role);
        anti_colocation_order(ws, primary, primary_role, dependent, dependent_role);
    }
}

fn anti_colocation_order(
    ws: &mut WorkingSet,
    first: RscId,
    first_role: Role,
    then: RscId,
    then_role: Role,
) {
    let first_tasks: Vec<&str> = if first_role == Role::Promoted {
        vec!["demote"]
    } else if first_role == Role::Unpromoted {
        vec!["stop", "promote"]
    } else {
        vec!["stop"]
    };
    let then_tasks: Vec<&str> = if then_role == Role::Promoted {
        vec!["promote"]
    } else if then_role == Role::Unpromoted {
        vec!["start", "demote"]
    } else {
        vec!["start"]
    };
    for f in &first_tasks {
        for t in &then_tasks {
            order_rsc(ws, first, f, then, t, of::ANTI_COLOCATION);
        }
    }
}

/// Keep a resource's colocation lists sorted as Pacemaker does (by the
/// other resource's priority, variant, promotable, then id).
fn insert_sorted(ws: &mut WorkingSet, rsc: RscId, cid: ColocId, this_with: bool) {
    let key = |ws: &WorkingSet, c: ColocId| {
        let other = if this_with {
            ws.colocs[c].primary
        } else {
            ws.colocs[c].dependent
        };
        let r = &ws.rscs[other];
        (
            std::cmp::Reverse(r.priority),
            std::cmp::Reverse(r.variant),
            std::cmp::Reverse(r.promotable && r.variant == Variant::Clone),
            r.id.clone(),
        )
    };
    let k = key(ws, cid);
    let list = if this_with {
        ws.rscs[rsc].this_with.clone()
    } else {
        ws.rscs[rsc].with_this.clone()
    };
    let pos = list
        .iter()
        .position(|&c| key(ws, c) > k)
        .unwrap_or(list.len());
    if this_with {
        ws.rscs[rsc].this_with.insert(pos, cid);
    } else {
        ws.rscs[rsc].with_this.insert(pos, cid);
    }
}

fn influence_of(ws: &WorkingSet, c: &Constraint, rsc: RscId) -> bool {
    match c.attr("influence") {
        Some(v) => is_true(v),
        None => ws.rscs[rsc].critical,
    }
}

fn unpack_colocation(ws: &mut WorkingSet, c: &Constraint, sets: &[ResourceSet]) {
    let id = c.attr("id").unwrap_or("").to_string();
    let score = c
        .attr("score")
        .map(|s| Score::parse_or_zero(s).value())
        .unwrap_or(0);
    if sets.is_empty() {
        let (Some(d), Some(p)) = (
            c.attr("rsc").and_then(|r| find_rsc(ws, r)),
            c.attr("with-rsc").and_then(|r| find_rsc(ws, r)),
        ) else {
            return;
        };
        let dr = role_of(c.attr("rsc-role"));
        let pr = role_of(c.attr("with-rsc-role"));
        let infl = influence_of(ws, c, d);
        new_colocation(ws, &id, c.attr("node-attribute"), score, d, p, dr, pr, infl);
        return;
    }
    // Resource sets: within a set, each member with the one before it
    // (ordering="listed": the other way round), or for negative scores with
    // every member before it; between consecutive sets, the earlier set
    // (its first member if sequential) with the later one (its last).
    let mut last_set: Option<&ResourceSet> = None;
    for set in sets {
        let local = set
            .attr("score")
            .map(|s| Score::parse_or_zero(s).value())
            .unwrap_or(score);
        let role = role_of(set.attr("role"));
        let sequential = bool_attr(set.attr("sequential")) != Some(false);
        let listed = set
            .attr("ordering")
            .is_some_and(|o| !o.eq_ignore_ascii_case("group"));
        let set_id = set.attr("id").unwrap_or(&id).to_string();
        let rscs: Vec<RscId> = set
            .resources
            .iter()
            .filter_map(|r| find_rsc(ws, r))
            .collect();
        if local != 0 && sequential {
            if local > 0 {
                for w in rscs.windows(2) {
                    let (dep, primary) = if listed { (w[0], w[1]) } else { (w[1], w[0]) };
                    let infl = influence_of(ws, c, dep);
                    new_colocation(ws, &set_id, None, local, dep, primary, role, role, infl);
                }
            } else {
                for (i, &r) in rscs.iter().enumerate() {
                    let infl = influence_of(ws, c, r);
                    for &w in &rscs[..i] {
                        new_colocation(ws, &set_id, None, local, r, w, role, role, infl);
                    }
                }
            }
        }
        if let (Some(prev), true) = (last_set, score != 0) {
            let prev_rscs: Vec<RscId> = prev
                .resources
                .iter()
                .filter_map(|r| find_rsc(ws, r))
                .collect();
            let prev_role = role_of(prev.attr("role"));
            let dependents: Vec<RscId> = if bool_attr(prev.attr("sequential")) != Some(false) {
                prev_rscs.first().copied().into_iter().collect()
            } else {
                prev_rscs
            };
            let primaries: Vec<RscId> = if sequential {
                rscs.last().copied().into_iter().collect()
            } else {
                rscs.clone()
            };
            for &d in &dependents {
                let infl = influence_of(ws, c, d);
                for &p in &primaries {
                    new_colocation(ws, &id, None, score, d, p, prev_role, role, infl);
                }
            }
        }
        last_set = Some(set);
    }
}

/// A boolean attribute as Pacemaker reads it: `None` when absent or not a
/// boolean.
fn bool_attr(v: Option<&str>) -> Option<bool> {
    match v?.trim().to_ascii_lowercase().as_str() {
        "true" | "on" | "yes" | "y" | "1" => Some(true),
        "false" | "off" | "no" | "n" | "0" => Some(false),
        _ => None,
    }
}

/// Record an ordering between two resources' actions.
pub fn order_rsc(
    ws: &mut WorkingSet,
    first: RscId,
    first_task: &str,
    then: RscId,
    then_task: &str,
    flags: u32,
) {
    ws.orderings.push(Ordering {
        first_rsc: Some(first),
        first_task: Some(first_task.to_string()),
        first_action: None,
        then_rsc: Some(then),
        then_task: Some(then_task.to_string()),
        then_action: None,
        flags,
    });
}

fn invert(task: &str) -> Option<&'static str> {
    Some(match task {
        "start" => "stop",
        "stop" => "start",
        "promote" => "demote",
        "demote" => "promote",
        "promoted" => "demoted",
        "demoted" => "promoted",
        "running" => "stopped",
        "stopped" => "running",
        _ => return None,
    })
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Optional,
    Mandatory,
    Serialize,
}

fn kind_of(c_kind: Option<&str>, score: Option<&str>) -> Kind {
    match c_kind {
        Some(k) if k.eq_ignore_ascii_case("optional") => Kind::Optional,
        Some(k) if k.eq_ignore_ascii_case("serialize") => Kind::Serialize,
        Some(_) => Kind::Mandatory,
        None => match score {
            Some(s) if Score::parse_or_zero(s).value() == 0 => Kind::Optional,
            _ => Kind::Mandatory,
        },
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Sym {
    Asym,
    Both,
    Inverse,
}

fn flags_for(kind: Kind, first: &str, sym: Sym) -> u32 {
    let mut f = of::OPTIONAL;
    match kind {
        Kind::Optional => {}
        Kind::Serialize => f |= of::SERIALIZE_ONLY,
        Kind::Mandatory => match sym {
            Sym::Asym => f |= of::ASYMMETRICAL,
            Sym::Both => {
                f |= of::IMPLIES_THEN;
                if first == "start" || first == "promote" {
                    f |= of::RUNNABLE_LEFT;
                }
            }
            Sym::Inverse => f |= of::IMPLIES_FIRST,
        },
    }
    f
}

fn symmetry(kind: Kind, symmetrical: Option<&str>) -> Sym {
    match symmetrical {
        Some(v) => {
            if is_true(v) && kind != Kind::Serialize {
                Sym::Both
            } else {
                Sym::Asym
            }
        }
        None => {
            if kind == Kind::Serialize {
                Sym::Asym
            } else {
                Sym::Both
            }
        }
    }
}

fn normalize_task(t: &str) -> String {
    t.to_ascii_lowercase()
}

fn unpack_order(ws: &mut WorkingSet, c: &Constraint, sets: &[ResourceSet]) {
    let kind = kind_of(c.attr("kind"), c.attr("score"));
    let sym = symmetry(kind, c.attr("symmetrical"));
    if sets.is_empty() {
        let (Some(first), Some(then)) = (
            c.attr("first").and_then(|r| find_rsc(ws, r)),
            c.attr("then").and_then(|r| find_rsc(ws, r)),
        ) else {
            return;
        };
        let first_action = normalize_task(c.attr("first-action").unwrap_or("start"));
        let then_action = c
            .attr("then-action")
            .map(normalize_task)
            .unwrap_or_else(|| first_action.clone());
        let mut flags = flags_for(kind, &first_action, sym);
        // Deprecated restart-type=restart turns optional orderings into
        // restart-propagating ones.
        let restart_type = kind == Kind::Optional
            && ws.rscs[then]
                .meta
                .get("restart-type")
                .is_some_and(|v| v.eq_ignore_ascii_case("restart"));
        if restart_type {
            flags |= of::IMPLIES_THEN;
        }
        let min = minimum_first_instances(ws, first, c);
        if min > 0 {
            clone_min_ordering(
                ws,
                c.attr("id").unwrap_or(""),
                first,
                &first_action,
                then,
                &then_action,
                flags,
                min,
            );
        } else {
            order_pair(ws, first, &first_action, then, &then_action, flags);
        }
        if sym == Sym::Both {
            if let (Some(ia), Some(ib)) = (invert(&then_action), invert(&first_action)) {
                let mut f = flags_for(kind, ib, Sym::Inverse);
                if restart_type {
                    f |= of::IMPLIES_FIRST;
                }
                order_rsc(ws, then, ia, first, ib, f);
            }
        }
        return;
    }
    // Resource sets (Pacemaker's unpack_order_set and order_rsc_sets).
    let id = c.attr("id").unwrap_or("");
    let mut prev: Option<&ResourceSet> = None;
    for set in sets {
        unpack_order_set(ws, set, kind, c.attr("symmetrical"));
        if let Some(last) = prev {
            order_rsc_sets(ws, id, last, set, kind, sym);
            if sym == Sym::Both {
                order_rsc_sets(ws, id, set, last, kind, Sym::Inverse);
            }
        }
        prev = Some(set);
    }
}

/// Orderings among the members of one set.
fn unpack_order_set(
    ws: &mut WorkingSet,
    set: &ResourceSet,
    parent_kind: Kind,
    parent_sym: Option<&str>,
) {
    let action = normalize_task(set.attr("action").unwrap_or("start"));
    // The set's own kind decides the flags only when spelled as `kind`;
    // its symmetry also looks at a `score`.
    let local_kind = match set.attr("kind") {
        Some(_) => kind_of(set.attr("kind"), None),
        None => parent_kind,
    };
    let sym_kind = if set.attr("kind").is_some() || set.attr("score").is_some() {
        kind_of(set.attr("kind"), set.attr("score"))
    } else {
        parent_kind
    };
    let ssym = symmetry(sym_kind, set.attr("symmetrical").or(parent_sym));
    let sequential = set.attr("sequential").is_none_or(is_true);
    let rscs: Vec<RscId> = set
        .resources
        .iter()
        .filter_map(|r| find_rsc(ws, r))
        .collect();
    if rscs.len() < 2 {
        return;
    }
    let flags = flags_for(local_kind, &action, ssym);
    if local_kind == Kind::Serialize {
        for (i, &r) in rscs.iter().enumerate() {
            for &t in &rscs[i + 1..] {
                order_rsc(ws, r, &action, t, &action, flags);
            }
        }
    } else if sequential {
        for w in rscs.windows(2) {
            order_pair(ws, w[0], &action, w[1], &action, flags);
        }
    }
    if ssym == Sym::Asym || !sequential {
        return;
    }
    if let Some(inv) = invert(&action) {
        let f = flags_for(local_kind, inv, Sym::Inverse);
        for w in rscs.windows(2) {
            order_rsc(ws, w[1], inv, w[0], inv, f);
        }
    }
}

/// Orderings between two consecutive sets (or, inverted, back from the
/// later to the earlier). Only a set marked `sequential="true"` is
/// represented by one member here (its last, or first when inverted);
/// `require-all="false"` on the first set goes through a pseudo action
/// runnable once any member is.
fn order_rsc_sets(
    ws: &mut WorkingSet,
    id: &str,
    set1: &ResourceSet,
    set2: &ResourceSet,
    kind: Kind,
    sym: Sym,
) {
    let mut action1 = normalize_task(set1.attr("action").unwrap_or("start"));
    let mut action2 = normalize_task(set2.attr("action").unwrap_or("start"));
    if sym == Sym::Inverse {
        action1 = invert(&action1).unwrap_or("").to_string();
        action2 = invert(&action2).unwrap_or("").to_string();
    }
    let mut require_all = bool_attr(set1.attr("require-all")).unwrap_or(true);
    if action1 == "stop" || action1 == "demote" {
        require_all = true;
    }
    let flags = flags_for(kind, &action2, sym);
    let members = |ws: &WorkingSet, s: &ResourceSet| -> Vec<RscId> {
        s.resources.iter().filter_map(|r| find_rsc(ws, r)).collect()
    };
    let rscs1 = members(ws, set1);
    let rscs2 = members(ws, set2);
    if !require_all {
        let name = format!("one-or-more:{}", set1.attr("id").unwrap_or(id));
        let a = pseudo_requires_any(ws, &name, 0);
        for &r in &rscs1 {
            ws.orderings.push(Ordering {
                first_rsc: Some(r),
                first_task: Some(action1.clone()),
                first_action: None,
                then_rsc: None,
                then_task: None,
                then_action: Some(a),
                flags: of::ONE_OR_MORE | of::IMPLIES_THEN_PRINTED,
            });
        }
        for &r in &rscs2 {
            ws.orderings.push(Ordering {
                first_rsc: None,
                first_task: None,
                first_action: Some(a),
                then_rsc: Some(r),
                then_task: Some(action2.clone()),
                then_action: None,
                flags: flags | of::RUNNABLE_LEFT,
            });
        }
        return;
    }
    let inverse = sym == Sym::Inverse;
    let firsts: Vec<RscId> = if bool_attr(set1.attr("sequential")) == Some(true) {
        if inverse { rscs1.first() } else { rscs1.last() }
            .copied()
            .into_iter()
            .collect()
    } else {
        rscs1
    };
    let thens: Vec<RscId> = if bool_attr(set2.attr("sequential")) == Some(true) {
        if inverse { rscs2.last() } else { rscs2.first() }
            .copied()
            .into_iter()
            .collect()
    } else {
        rscs2
    };
    for &f in &firsts {
        for &t in &thens {
            order_pair(ws, f, &action1, t, &action2, flags);
        }
    }
}

/// The named pseudo action that becomes runnable once `min` (at least one)
/// of the actions ordered before it are, created once.
fn pseudo_requires_any(ws: &mut WorkingSet, name: &str, min: u32) -> ActionId {
    if let Some(a) = ws
        .actions
        .iter()
        .position(|a| a.rsc.is_none() && a.name.as_deref() == Some(name))
    {
        return a;
    }
    let a = ws.actions.len();
    ws.actions.push(Action {
        rsc: None,
        task: name.to_string(),
        interval_ms: 0,
        node: None,
        flags: af::PSEUDO | af::RUNNABLE | af::OPTIONAL | af::REQUIRES_ANY,
        reason: None,
        before: Vec::new(),
        after: Vec::new(),
        fence_type: None,
        needs: Needs::Nothing,
        runnable_before: 0,
        required_runnable_before: min,
        name: Some(name.to_string()),
    });
    a
}

fn order_pair(
    ws: &mut WorkingSet,
    first: RscId,
    first_action: &str,
    then: RscId,
    then_action: &str,
    flags: u32,
) {
    order_rsc(ws, first, first_action, then, then_action, flags);
}

/// Whether a ticket is granted and whether it is in standby.
fn ticket_state(cib: &Cib, ticket: &str) -> (bool, bool) {
    for t in &cib.tickets {
        let get = |k: &str| t.iter().find(|(a, _)| a == k).map(|(_, v)| v.as_str());
        if get("id") == Some(ticket) {
            return (
                get("granted").is_some_and(is_true),
                get("standby").is_some_and(is_true),
            );
        }
    }
    (false, false)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Loss {
    Stop,
    Demote,
    Fence,
    Freeze,
}

fn unpack_ticket(cib: &Cib, ws: &mut WorkingSet, c: &Constraint, sets: &[ResourceSet]) {
    let Some(ticket) = c.attr("ticket") else {
        return;
    };
    let (granted, standby) = ticket_state(cib, ticket);
    let mut targets: Vec<(RscId, Role)> = Vec::new();
    if let Some(r) = c.attr("rsc").and_then(|r| find_rsc(ws, r)) {
        targets.push((r, role_of(c.attr("rsc-role"))));
    }
    for s in sets {
        for id in &s.resources {
            if let Some(r) = find_rsc(ws, id) {
                targets.push((r, role_of(s.attr("role").or(c.attr("rsc-role")))));
            }
        }
    }
    for (rsc, role) in targets {
        let loss = match c
            .attr("loss-policy")
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("fence") if ws.options.stonith_enabled => Loss::Fence,
            Some("fence") | Some("stop") => Loss::Stop,
            Some("freeze") => Loss::Freeze,
            Some("demote") => Loss::Demote,
            _ => {
                if role == Role::Promoted {
                    Loss::Demote
                } else {
                    Loss::Stop
                }
            }
        };
        if role == Role::Promoted {
            ws.ticket_promotion_bans.push((rsc, !granted || standby));
        }
        if !granted || standby {
            apply_ticket(ws, rsc, role, loss, granted, standby);
        }
    }
}

fn apply_ticket(
    ws: &mut WorkingSet,
    rsc: RscId,
    role: Role,
    loss: Loss,
    granted: bool,
    standby: bool,
) {
    if !ws.rscs[rsc].children.is_empty() {
        for ch in ws.rscs[rsc].children.clone() {
            apply_ticket(ws, ch, role, loss, granted, standby);
        }
        return;
    }
    let matches = role == Role::Unknown || role == ws.rscs[rsc].role;
    if !granted && !ws.rscs[rsc].running_on.is_empty() {
        match loss {
            Loss::Stop => crate::graph::add_location(ws, rsc, None, -INFINITY),
            Loss::Demote => {
                if role != Role::Promoted {
                    crate::graph::add_location(ws, rsc, None, -INFINITY);
                }
            }
            Loss::Fence => {
                if !matches {
                    return;
                }
                crate::graph::add_location(ws, rsc, None, -INFINITY);
                for n in ws.rscs[rsc].running_on.clone() {
                    crate::graph::fence_node(ws, n, "deadman ticket was lost");
                }
            }
            Loss::Freeze => {
                if !matches {
                    return;
                }
                ws.rscs[rsc].managed = false;
                ws.rscs[rsc].block = true;
            }
        }
    } else if (!granted || standby) && (role != Role::Promoted || loss == Loss::Stop) {
        crate::graph::add_location(ws, rsc, None, -INFINITY);
    }
}

/// clone-min (or the deprecated require-all=false) of an ordering's first
/// resource: how many instances must be runnable.
fn minimum_first_instances(ws: &WorkingSet, rsc: RscId, c: &Constraint) -> u32 {
    if ws.rscs[rsc].variant != Variant::Clone {
        return 0;
    }
    if let Some(v) = ws.rscs[rsc].meta.get("clone-min") {
        return v.trim().parse::<i64>().unwrap_or(0).max(0) as u32;
    }
    match c.attr("require-all") {
        Some(v) if !is_true(v) => 1,
        _ => 0,
    }
}

/// Order `then` after a pseudo action that becomes runnable once `min`
/// instances of the clone `first` can do `first_action`.
#[allow(clippy::too_many_arguments)]
fn clone_min_ordering(
    ws: &mut WorkingSet,
    id: &str,
    first: RscId,
    first_action: &str,
    then: RscId,
    then_action: &str,
    flags: u32,
    min: u32,
) {
    let name = format!("clone-one-or-more:{id}");
    let a = pseudo_requires_any(ws, &name, min);
    for child in ws.rscs[first].children.clone() {
        ws.orderings.push(Ordering {
            first_rsc: Some(child),
            first_task: Some(first_action.to_string()),
            first_action: None,
            then_rsc: None,
            then_task: None,
            then_action: Some(a),
            flags: of::ONE_OR_MORE | of::IMPLIES_THEN_PRINTED,
        });
    }
    ws.orderings.push(Ordering {
        first_rsc: None,
        first_task: None,
        first_action: Some(a),
        then_rsc: Some(then),
        then_task: Some(then_action.to_string()),
        then_action: None,
        flags: flags | of::RUNNABLE_LEFT,
    });
}

/// Node health (`#health*` node attributes under a node-health-strategy)
/// as location preferences of every top-level resource.
pub fn node_health_locations(ws: &WorkingSet) -> Vec<Location> {
    let strategy = ws.options.health_strategy.as_str();
    if !matches!(
        strategy,
        "migrate-on-red" | "only-green" | "progressive" | "custom"
    ) {
        return Vec::new();
    }
    let (red, yellow, green, base) = ws.options.health_scores;
    let base = if strategy == "progressive" { base } else { 0 };
    let mut out = Vec::new();
    for n in 0..ws.nodes.len() {
        let mut health = Score::from(base);
        for (k, v) in &ws.nodes[n].attrs {
            if !k.starts_with("#health") {
                continue;
            }
            let s = match v.trim().to_ascii_lowercase().as_str() {
                "red" => Score::from(red),
                "yellow" => Score::from(yellow),
                "green" => Score::from(green),
                other => Score::parse_or_zero(other),
            };
            health += s;
        }
        if health.value() == 0 {
            continue;
        }
        for &r in &ws.top {
            let allow = ws.rscs[r]
                .meta
                .get("allow-unhealthy-nodes")
                .is_some_and(|v| is_true(v));
            if health.value() < 0 && allow {
                continue;
            }
            out.push(Location {
                rsc: r,
                role_filter: Role::Unknown,
                scores: vec![(n, health)],
                discover: Discover::Always,
            });
        }
    }
    out
}
