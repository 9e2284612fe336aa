#!/usr/bin/env bash
# Measure real Pacemaker 2.1.5 (Debian) on Corosync 3.1.7 (knet, default totem timers, so
# token 3000 ms -> 3650 ms effective with 3 nodes, consensus 4380 ms), three nodes in network
# namespaces on this host. Setup and the power-loss fault are described in pacemaker-lib.sh.
#
# Cluster configuration (made once with cibadmin, then reused; saved to data/pacemaker/cib.xml):
#   stonith-enabled=false, every other cluster option default (dc-deadtime 20s,
#   resource-stickiness 0, no-quorum-policy stop, ...)
#   vip            ocf:heartbeat:IPaddr2 ip=10.200.2.100/24 nic=eth0, monitor 10s
#   d1, d2         ocf:pacemaker:Dummy, monitor 10s
#   haproxy-clone  clone of ocf:pacemaker:Dummy (stands in for haproxy), monitor 10s
#
# Scenarios (SCENARIOS, default "cold dc nondc mon mt2"), each REPS times:
#   cold  : all three nodes killed, /var/lib/pacemaker restored to the same snapshot (taken after
#           a clean simultaneous shutdown), then the three nodes started together
#           -> corosync 3-node ring, DC elected (S_ELECTION -> S_INTEGRATION), all 6 resource
#           instances started, first S_IDLE
#   dc    : power loss of the DC -> corosync membership, "state is now lost", new DC elected,
#           each primitive the dead DC held started elsewhere, first S_IDLE
#   nondc : power loss of a non-DC node holding a primitive -> same events (no election)
#   mon   : d1's state file (/run/Dummy-d1.state, in the node's private /run) deleted at a random
#           0-9.999 s phase of its 10 s monitor -> "monitor ... not running" -> restarted in place
#   mt2   : d1 with migration-threshold=2: failure 1 -> restart in place; failure 2 -> moves
# Power-loss faults come after a random 0-999 ms sleep; the node is then restored and the
# cluster allowed to settle (3 online, 6 started, crm_resource --wait) before the next rep.
# Timestamps come from the daemons' own logs (pacemaker.log detail log and corosync's
# `timestamp: hires`, both millisecond resolution); the fault time is $EPOCHREALTIME just
# before the fault command. No crm_mon polling is used for any measured number.
#
# Usage (from the repo root, as root):  bash reports/real-measurements/pacemaker-timings.sh
# Environment: REPS (default 6), SCENARIOS, OUT (default .../data/pacemaker), MAX_SECONDS (3000)
set -uo pipefail
if [ -z "${HSM_BOUNDED:-}" ]; then
	HSM_BOUNDED=1 exec timeout --kill-after=30 "${MAX_SECONDS:-3000}" bash "${BASH_SOURCE[0]}" "$@"
fi

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/pacemaker-lib.sh"
REPS=${REPS:-6}
SCENARIOS=${SCENARIOS:-"cold dc nondc mon mt2"}
OUT=${OUT:-$HERE/data/pacemaker}
WANT_ACTIVE=6

on_exit() { local rc=$?; cleanup; exit $rc; }
trap on_exit EXIT
trap 'log "interrupted"; exit 130' INT TERM

configure_cib() { # node
	local n=$1 r
	pcmk_on "$n" crm_attribute -t crm_config -n stonith-enabled -v false || return 1
	pcmk_on "$n" cibadmin -C -o resources -X '<primitive id="vip" class="ocf" provider="heartbeat" type="IPaddr2"><instance_attributes id="vip-ia"><nvpair id="vip-ip" name="ip" value="'"$VIP"'"/><nvpair id="vip-cidr" name="cidr_netmask" value="24"/><nvpair id="vip-nic" name="nic" value="eth0"/></instance_attributes><operations><op id="vip-mon" name="monitor" interval="10s" timeout="20s"/></operations></primitive>' || return 1
	for r in d1 d2; do
		pcmk_on "$n" cibadmin -C -o resources -X "<primitive id=\"$r\" class=\"ocf\" provider=\"pacemaker\" type=\"Dummy\"><operations><op id=\"$r-mon\" name=\"monitor\" interval=\"10s\" timeout=\"20s\"/></operations></primitive>" || return 1
	done
	pcmk_on "$n" cibadmin -C -o resources -X '<clone id="haproxy-clone"><primitive id="haproxy" class="ocf" provider="pacemaker" type="Dummy"><operations><op id="haproxy-mon" name="monitor" interval="10s" timeout="20s"/></operations></primitive></clone>' || return 1
}

# Build the cluster once: fresh state, start, configure, settle, clean simultaneous shutdown,
# snapshot every node's /var/lib/pacemaker for the cold-start repetitions.
bootstrap() {
	local n st
	setup_net || { log "namespace setup failed"; return 1; }
	rm -rf "$WORK"; mkdir -p "$WORK"
	for n in $NODES; do write_node_files "$n"; done
	cp "$WORK/node1/etc-corosync/corosync.conf" "$OUT/corosync-node1.conf"
	for n in $NODES; do start_node "$n"; done
	wait_ev 90 0 "S_TRANSITION_ENGINE -> S_IDLE" $(plog $NODES) >/dev/null || { log "bootstrap: no DC"; return 1; }
	configure_cib 1 || { log "bootstrap: cibadmin failed"; return 1; }
	st=$(wait_stable 1 120) || { log "bootstrap: not stable: $(cluster_state 1)"; return 1; }
	log "bootstrap: $st"
	pcmk_on 1 cibadmin -Q -o configuration >"$OUT/cib-configuration.xml"
	for n in $NODES; do pcmk_on "$n" pacemakerd -S >/dev/null 2>&1 & done
	wait
	for n in $(seq 1 120); do
		node_alive 1 || node_alive 2 || node_alive 3 || break
		sleep 0.5
	done
	for n in $NODES; do kill_node "$n"; done
	sleep 1
	mkdir -p "$WORK/snap"
	for n in $NODES; do rm -rf "$WORK/snap/node$n"; cp -a "$WORK/node$n/lib-pacemaker" "$WORK/snap/node$n"; done
}

run_cold() {
	local rep n t0 t_ring t_pend t_elect t_idle t_last t_nstart dc st f="$OUT/coldstart.tsv"
	printf 'rep\tt_start\tdc\tstart_to_3node_ring_s\tstart_to_first_S_PENDING_s\tstart_to_dc_elected_s\tstart_to_all_started_s\tstart_to_first_S_IDLE_s\tdc_elected_to_all_started_s\tn_start_ok\n' >"$f"
	for rep in $(seq 1 "$REPS"); do
		for n in $NODES; do kill_node "$n"; done
		sleep 1
		for n in $NODES; do
			rm -rf "$WORK/node$n/lib-pacemaker"; cp -a "$WORK/snap/node$n" "$WORK/node$n/lib-pacemaker"
			ip -n "hsm-p$n" addr flush dev eth0; ip -n "hsm-p$n" addr add "10.200.2.$n/24" dev eth0
		done
		t0=$EPOCHREALTIME
		for n in $NODES; do start_node "$n"; done
		st=$(wait_stable 1 180) || { log "cold rep $rep: not stable: $(cluster_state 1)"; return 1; }
		dc=$(field "$st" dc)
		t_ring=$(ev "$t0" "[[]QUORUM[]] Members[[]3[]]" $(clog $NODES))
		t_pend=$(ev "$t0" "S_STARTING -> S_PENDING" $(plog $NODES))
		t_elect=$(ev "$t0" "S_ELECTION -> S_INTEGRATION" $(plog $NODES))
		t_idle=$(ev "$t0" "-> S_IDLE" $(plog $NODES))
		t_last=$(evs "$t0" "Result of start operation for .*: ok" $(plog $NODES) | tail -1)
		t_nstart=$(evs "$t0" "Result of start operation for .*: ok" $(plog $NODES) | wc -l)
		printf '%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$rep" "$t0" "$dc" "$(sub "$t_ring" "$t0")" "$(sub "$t_pend" "$t0")" \
			"$(sub "$t_elect" "$t0")" "$(sub "$t_last" "$t0")" "$(sub "$t_idle" "$t0")" "$(sub "$t_last" "$t_elect")" "$t_nstart" >>"$f"
		log "cold rep $rep: ring $(sub "$t_ring" "$t0") DC($dc) $(sub "$t_elect" "$t0") all-started $(sub "$t_last" "$t0") ($t_nstart starts) S_IDLE $(sub "$t_idle" "$t0")"
		sleep 2
	done
}

# power loss of node X; KIND = dc | nondc
run_loss() {
	local kind=$1 rep st dc x r tf t_memb t_lost t_elect t_idle t_r t_rall t_back t_stable rsc_list surv newdc
	local f="$OUT/${kind}loss.tsv"
	printf 'rep\tt_fault\tvictim\twas_dc\tresources_moved\tnew_dc\tfault_to_corosync_membership_s\tfault_to_pcmk_node_lost_s\tfault_to_new_dc_elected_s\tfault_to_resources_started_elsewhere_s\tfault_to_first_S_IDLE_s\tlost_to_resources_started_s\tper_resource_start_s\trestart_to_stable_s\n' >"$f"
	for rep in $(seq 1 "$REPS"); do
		st=$(wait_stable 1 180) || st=$(wait_stable 2 60) || { log "$kind rep $rep: not stable"; return 1; }
		dc=$(field "$st" dc); dc=${dc#node}
		if [ "$kind" = dc ]; then
			x=$dc
		else # a non-DC node that holds a primitive (vip first)
			x=""
			for r in vip d1 d2; do
				r=$(field "$st" "$r"); r=${r#node}
				[ -n "$r" ] && [ "$r" != "$dc" ] && { x=$r; break; }
			done
			[ -z "$x" ] && { log "nondc rep $rep: no non-DC node holds a primitive: $st"; return 1; }
		fi
		rsc_list=""
		for r in vip d1 d2; do [ "$(field "$st" "$r")" = "node$x" ] && rsc_list="$rsc_list $r"; done
		surv=$(others "$x")
		log "$kind rep $rep: $st -> power off node$x (holds:${rsc_list:- nothing})"
		sleep "$(rand_ms $((RANDOM % 1000)))"
		tf=$EPOCHREALTIME
		power_off "$x"
		t_memb=$(wait_ev 30 "$tf" "Members left: $x" $(clog $surv))
		t_lost=$(wait_ev 30 "$tf" "pacemaker-controld.*Node node$x state is now lost" $(plog $surv))
		t_elect=""
		[ "$kind" = dc ] && t_elect=$(wait_ev 60 "$tf" "S_ELECTION -> S_INTEGRATION" $(plog $surv))
		t_rall=""; local per=""
		for r in $rsc_list; do
			t_r=$(wait_ev 60 "$tf" "Result of start operation for $r on node[^$x]: ok" $(plog $surv))
			per="$per$r=$(sub "$t_r" "$tf"),"
			if [ -z "$t_r" ]; then t_rall=NA; elif [ "$t_rall" != NA ] && { [ -z "$t_rall" ] || awk -v a="$t_r" -v b="$t_rall" 'BEGIN{exit !(a>b)}'; }; then t_rall=$t_r; fi
		done
		[ "$t_rall" = NA ] && t_rall=""
		t_idle=$(wait_ev 60 "$tf" "-> S_IDLE" $(plog $surv))
		newdc=$(grep -h "S_ELECTION -> S_INTEGRATION" $(plog $surv) 2>/dev/null | tail -1 | awk '{print $4}')
		[ "$kind" = dc ] || newdc="node$dc"
		printf '%d\t%s\tnode%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t' "$rep" "$tf" "$x" "$([ "$x" = "$dc" ] && echo yes || echo no)" \
			"$(echo $rsc_list | tr ' ' ,)" "$newdc" "$(sub "$t_memb" "$tf")" "$(sub "$t_lost" "$tf")" "$(sub "$t_elect" "$tf")" \
			"$(sub "$t_rall" "$tf")" "$(sub "$t_idle" "$tf")" "$(sub "$t_rall" "$t_lost")" "${per%,}" >>"$f"
		log "$kind rep $rep: membership $(sub "$t_memb" "$tf") lost $(sub "$t_lost" "$tf") elected $(sub "$t_elect" "$tf") rsc $(sub "$t_rall" "$tf") ($per) S_IDLE $(sub "$t_idle" "$tf")"
		sleep 2
		t_back=$EPOCHREALTIME
		restore_node "$x"
		set -- $surv
		if st=$(wait_stable "$1" 180); then
			t_stable=$EPOCHREALTIME
			printf '%s\n' "$(sub "$t_stable" "$t_back")" >>"$f"
			log "$kind rep $rep: node$x back, stable after $(sub "$t_stable" "$t_back") s (polled): $st"
		else
			printf 'NA\n' >>"$f"; log "$kind rep $rep: not stable after restore"; return 1
		fi
		sleep 2
	done
}

d1_fail() { # node -> removes d1's state file in that node's private /run
	pcmk_on "$1" rm -f /run/Dummy-d1.state
}

run_mon() {
	local rep st x tf t_det t_stop t_start where f="$OUT/monfail.tsv"
	printf 'rep\tt_fault\tnode\tfault_to_monitor_not_running_s\tdetect_to_stop_ok_s\tdetect_to_start_ok_s\tstarted_on\n' >"$f"
	for rep in $(seq 1 "$REPS"); do
		st=$(wait_stable 1 180) || { log "mon rep $rep: not stable"; return 1; }
		x=$(field "$st" d1); x=${x#node}
		sleep "$(rand_ms $((RANDOM % 10000)))"
		tf=$EPOCHREALTIME
		d1_fail "$x"
		t_det=$(wait_ev 30 "$tf" "Result of monitor operation for d1 on node$x: not running" $(plog $x))
		t_start=$(wait_ev 30 "${t_det:-$tf}" "Result of start operation for d1 on node[0-9]: ok" $(plog $NODES))
		t_stop=$(ev "${t_det:-$tf}" "Result of stop operation for d1 on node$x: ok" $(plog $x))
		where=$(grep -h "Result of start operation for d1 on" $(plog $NODES) | sort | tail -1 | sed -n 's/.*for d1 on \(node[0-9]\).*/\1/p')
		printf '%d\t%s\tnode%s\t%s\t%s\t%s\t%s\n' "$rep" "$tf" "$x" "$(sub "$t_det" "$tf")" "$(sub "$t_stop" "$t_det")" "$(sub "$t_start" "$t_det")" "$where" >>"$f"
		log "mon rep $rep: node$x detect $(sub "$t_det" "$tf") restart +$(sub "$t_start" "$t_det") on $where"
		sleep 1
		pcmk_on "$x" crm_resource --cleanup -r d1 >/dev/null 2>&1
		sleep 1
	done
}

run_mt2() {
	local rep st x tf1 tf2 t_det1 t_det2 t_start1 t_mon1 t_start2 where2 f="$OUT/monfail-mt2.tsv"
	printf 'rep\tnode\tt_fault1\tfault1_to_not_running_s\tdetect1_to_restart_ok_s\trestarted_on\tt_fault2\tfault2_to_not_running_s\tdetect2_to_start_elsewhere_s\tmoved_to\n' >"$f"
	pcmk_on 1 crm_resource -r d1 --meta -p migration-threshold -v 2 >/dev/null || return 1
	for rep in $(seq 1 "$REPS"); do
		pcmk_on 1 crm_resource --cleanup -r d1 >/dev/null 2>&1
		sleep 1
		st=$(wait_stable 1 180) || { log "mt2 rep $rep: not stable"; return 1; }
		x=$(field "$st" d1); x=${x#node}
		sleep "$(rand_ms $((RANDOM % 10000)))"
		tf1=$EPOCHREALTIME
		d1_fail "$x"
		t_det1=$(wait_ev 30 "$tf1" "Result of monitor operation for d1 on node$x: not running" $(plog $x))
		t_start1=$(wait_ev 30 "${t_det1:-$tf1}" "Result of start operation for d1 on node[0-9]: ok" $(plog $NODES))
		local r1; r1=$(grep -h "Result of start operation for d1 on" $(plog $NODES) | sort | tail -1 | sed -n 's/.*for d1 on \(node[0-9]\).*/\1/p')
		# the recurring monitor is running again once its first result is logged
		t_mon1=$(wait_ev 30 "${t_start1:-$tf1}" "Result of monitor operation for d1 on node$x: ok" $(plog $x))
		sleep "$(rand_ms $((RANDOM % 10000)))"
		tf2=$EPOCHREALTIME
		d1_fail "$x"
		t_det2=$(wait_ev 30 "$tf2" "Result of monitor operation for d1 on node$x: not running" $(plog $x))
		t_start2=$(wait_ev 30 "${t_det2:-$tf2}" "Result of start operation for d1 on node[^$x]: ok" $(plog $NODES))
		where2=$(grep -h "Result of start operation for d1 on" $(plog $NODES) | sort | tail -1 | sed -n 's/.*for d1 on \(node[0-9]\).*/\1/p')
		printf '%d\tnode%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$rep" "$x" "$tf1" "$(sub "$t_det1" "$tf1")" "$(sub "$t_start1" "$t_det1")" "$r1" \
			"$tf2" "$(sub "$t_det2" "$tf2")" "$(sub "$t_start2" "$t_det2")" "$where2" >>"$f"
		log "mt2 rep $rep: node$x fail1 detect $(sub "$t_det1" "$tf1") restart +$(sub "$t_start1" "$t_det1") on $r1; fail2 detect $(sub "$t_det2" "$tf2") moved +$(sub "$t_start2" "$t_det2") to $where2"
		sleep 1
	done
	pcmk_on 1 crm_resource --cleanup -r d1 >/dev/null 2>&1
	pcmk_on 1 crm_resource -r d1 --meta -d migration-threshold >/dev/null 2>&1
}

mkdir -p "$OUT"
record_versions "$OUT/versions.txt"
bootstrap || exit 1
# the failure scenarios start from a running cluster (cold start leaves one running)
if [[ " $SCENARIOS " != *" cold "* ]]; then
	for n in $NODES; do kill_node "$n"; done; sleep 1
	for n in $NODES; do start_node "$n"; done
fi
rc=0
for s in $SCENARIOS; do
	case $s in
	cold) run_cold || rc=1 ;;
	dc | nondc) run_loss "$s" || rc=1 ;;
	mon) run_mon || rc=1 ;;
	mt2) run_mt2 || rc=1 ;;
	esac
	save_logs "$OUT/logs"
done
echo "loadavg at end: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$OUT/versions.txt"
exit $rc
