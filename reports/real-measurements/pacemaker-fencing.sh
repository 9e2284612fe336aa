#!/usr/bin/env bash
# Measure node loss -> fencing -> recovery on real Pacemaker 2.1.5 / Corosync 3.1.7 (hasim
# issue 9). Same three-node namespace cluster as pacemaker-timings.sh (see pacemaker-lib.sh),
# same resources, but with fencing on:
#   stonith-enabled=true (default stonith-action=reboot, stonith-timeout 60s, no delays)
#   fence-all   stonith:fence_hsm, pcmk_host_list="node1 node2 node3", monitor 60s
# fence_hsm is data/pacemaker/fence_hsm, made visible to the fencers as /usr/sbin/fence_hsm
# by a symlink that this script creates and removes on exit. The agent asks the "power
# controller" loop below (host namespaces) to act: off = port down + kill -9 of the node's
# processes, on = boot the node again, reboot = off then on; each request is logged with
# $EPOCHREALTIME in data/pacemaker-fencing/power.log.
#
# Scenarios (SCENARIOS, default "dc nondc"), each REPS times, after a random 0-999 ms sleep:
#   dc    : power loss of the DC
#   nondc : power loss of a non-DC node that holds a primitive (vip, d1 or d2)
# Power loss is the same as in pacemaker-timings.sh (port down, kill -9 of everything). The
# fence then "reboots" an already dead node, so the fence action itself is quick; the node
# boots again (the "on" half) and the cluster settles before the next repetition.
#
# Usage (from the repo root, as root): bash reports/real-measurements/pacemaker-fencing.sh
# Environment: REPS (default 6), SCENARIOS, OUT (default .../data/pacemaker-fencing)
set -uo pipefail
if [ -z "${HSM_BOUNDED:-}" ]; then
	HSM_BOUNDED=1 exec timeout --kill-after=30 "${MAX_SECONDS:-1500}" bash "${BASH_SOURCE[0]}" "$@"
fi

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/pacemaker-lib.sh"
REPS=${REPS:-6}
SCENARIOS=${SCENARIOS:-"dc nondc"}
OUT=${OUT:-$HERE/data/pacemaker-fencing}
WANT_ACTIVE=7
FD=$WORK/fence
FENCE_LINK=/usr/sbin/fence_hsm
CTL_PID=""

on_exit() { local rc=$?; [ -n "$CTL_PID" ] && kill "$CTL_PID" 2>/dev/null; cleanup; exit $rc; }
trap on_exit EXIT
trap 'log "interrupted"; exit 130' INT TERM

configure_cib() { # node
	local n=$1 r
	pcmk_on "$n" crm_attribute -t crm_config -n stonith-enabled -v true || return 1
	pcmk_on "$n" cibadmin -C -o resources -X '<primitive id="fence-all" class="stonith" type="fence_hsm"><instance_attributes id="fence-all-ia"><nvpair id="fence-all-hl" name="pcmk_host_list" value="node1 node2 node3"/></instance_attributes><operations><op id="fence-all-mon" name="monitor" interval="60s"/></operations></primitive>' || return 1
	pcmk_on "$n" cibadmin -C -o resources -X '<primitive id="vip" class="ocf" provider="heartbeat" type="IPaddr2"><instance_attributes id="vip-ia"><nvpair id="vip-ip" name="ip" value="'"$VIP"'"/><nvpair id="vip-cidr" name="cidr_netmask" value="24"/><nvpair id="vip-nic" name="nic" value="eth0"/></instance_attributes><operations><op id="vip-mon" name="monitor" interval="10s" timeout="20s"/></operations></primitive>' || return 1
	for r in d1 d2; do
		pcmk_on "$n" cibadmin -C -o resources -X "<primitive id=\"$r\" class=\"ocf\" provider=\"pacemaker\" type=\"Dummy\"><operations><op id=\"$r-mon\" name=\"monitor\" interval=\"10s\" timeout=\"20s\"/></operations></primitive>" || return 1
	done
	pcmk_on "$n" cibadmin -C -o resources -X '<clone id="haproxy-clone"><primitive id="haproxy" class="ocf" provider="pacemaker" type="Dummy"><operations><op id="haproxy-mon" name="monitor" interval="10s" timeout="20s"/></operations></primitive></clone>' || return 1
}

bootstrap() {
	local n st
	setup_net || { log "namespace setup failed"; return 1; }
	rm -rf "$WORK"; mkdir -p "$WORK" "$FD"
	for n in $NODES; do write_node_files "$n"; echo on >"$FD/node$n.power"; done
	install -m 0755 "$HERE/data/pacemaker/fence_hsm" "$WORK/fence_hsm"
	[ -e "$FENCE_LINK" ] && [ ! -L "$FENCE_LINK" ] && { log "$FENCE_LINK exists and is not our link"; return 1; }
	ln -sfn "$WORK/fence_hsm" "$FENCE_LINK"
	power_controller &
	CTL_PID=$!
	for n in $NODES; do start_node "$n"; done
	wait_ev 90 0 "S_TRANSITION_ENGINE -> S_IDLE" $(plog $NODES) >/dev/null || { log "bootstrap: no DC"; return 1; }
	configure_cib 1 || { log "bootstrap: cibadmin failed"; return 1; }
	st=$(wait_stable 1 120) || { log "bootstrap: not stable: $(cluster_state 1)"; return 1; }
	log "bootstrap: $st"
	pcmk_on 1 cibadmin -Q -o configuration >"$OUT/cib-configuration.xml"
}

run_fenced_loss() {
	local kind=$1 rep st dc x r tf t_memb t_lost t_elect t_req t_pw t_conf t_idle t_r t_rall rsc_list surv newdc per
	local f="$OUT/${kind}loss-fenced.tsv"
	printf 'rep\tt_fault\tvictim\twas_dc\tresources_moved\tnew_dc\tfault_to_corosync_membership_s\tfault_to_pcmk_node_lost_s\tfault_to_new_dc_elected_s\tfault_to_fencing_requested_s\tfault_to_power_controller_off_s\tfault_to_fence_confirmed_s\tfault_to_resources_started_elsewhere_s\tfault_to_first_S_IDLE_s\tlost_to_fence_requested_s\tfence_requested_to_confirmed_s\tfence_confirmed_to_resources_started_s\tper_resource_start_s\n' >"$f"
	for rep in $(seq 1 "$REPS"); do
		st=$(wait_stable 1 180) || st=$(wait_stable 2 60) || st=$(wait_stable 3 60) || { log "$kind rep $rep: not stable"; return 1; }
		dc=$(field "$st" dc); dc=${dc#node}
		if [ "$kind" = dc ]; then
			x=$dc
		else
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
		echo "$tf fault node$x" >>"$FD/power.log"
		power_off "$x"; echo off >"$FD/node$x.power"
		t_memb=$(wait_ev 30 "$tf" "Members left: $x" $(clog $surv))
		t_lost=$(wait_ev 30 "$tf" "pacemaker-controld.*Node node$x state is now lost" $(plog $surv))
		t_elect=""
		[ "$kind" = dc ] && t_elect=$(wait_ev 60 "$tf" "S_ELECTION -> S_INTEGRATION" $(plog $surv))
		t_req=$(wait_ev 60 "$tf" "pacemaker-controld.*Requesting fencing .* node$x" $(plog $surv))
		t_conf=$(wait_ev 90 "$tf" "pacemaker-controld.*Peer node$x was terminated .*: OK" $(plog $surv))
		t_pw=$(awk -v t="$tf" -v nd="node$x" '$1 >= t && $3 == nd && $4 == "off" { printf "%.6f\n", $1; exit }' "$FD/power.log")
		t_rall=""; per=""
		for r in $rsc_list; do
			t_r=$(wait_ev 60 "$tf" "Result of start operation for $r on node[^$x]: ok" $(plog $surv))
			per="$per$r=$(sub "$t_r" "$tf"),"
			if [ -z "$t_r" ]; then t_rall=NA; elif [ "$t_rall" != NA ] && { [ -z "$t_rall" ] || awk -v a="$t_r" -v b="$t_rall" 'BEGIN{exit !(a>b)}'; }; then t_rall=$t_r; fi
		done
		[ "$t_rall" = NA ] && t_rall=""
		t_idle=$(wait_ev 60 "${t_conf:-$tf}" "-> S_IDLE" $(plog $surv))
		newdc=$(grep -h "S_ELECTION -> S_INTEGRATION" $(plog $surv) 2>/dev/null | sort | tail -1 | awk '{print $4}')
		[ "$kind" = dc ] || newdc="node$dc"
		printf '%d\t%s\tnode%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$rep" "$tf" "$x" \
			"$([ "$x" = "$dc" ] && echo yes || echo no)" "$(echo $rsc_list | tr ' ' ,)" "$newdc" \
			"$(sub "$t_memb" "$tf")" "$(sub "$t_lost" "$tf")" "$(sub "$t_elect" "$tf")" "$(sub "$t_req" "$tf")" \
			"$(sub "$t_pw" "$tf")" "$(sub "$t_conf" "$tf")" "$(sub "$t_rall" "$tf")" "$(sub "$t_idle" "$tf")" \
			"$(sub "$t_req" "$t_lost")" "$(sub "$t_conf" "$t_req")" "$(sub "$t_rall" "$t_conf")" "${per%,}" >>"$f"
		log "$kind rep $rep: lost $(sub "$t_lost" "$tf") elected $(sub "$t_elect" "$tf") fence-req $(sub "$t_req" "$tf") power-off $(sub "$t_pw" "$tf") confirmed $(sub "$t_conf" "$tf") rsc $(sub "$t_rall" "$tf") ($per) S_IDLE $(sub "$t_idle" "$tf")"
		# the fence was a reboot: the controller has booted the node again; if the fence never
		# happened, boot it here
		if [ -z "$t_pw" ]; then restore_node "$x"; echo on >"$FD/node$x.power"; fi
		set -- $surv
		st=$(wait_stable "$1" 180) || { log "$kind rep $rep: not stable after the node came back"; return 1; }
		log "$kind rep $rep: node$x back: $st"
		sleep 2
	done
}

mkdir -p "$OUT"
record_versions "$OUT/versions.txt"
bootstrap || exit 1
rc=0
for s in $SCENARIOS; do
	run_fenced_loss "$s" || rc=1
	save_logs "$OUT/logs"
	cp "$FD/power.log" "$FD/agent.log" "$OUT/" 2>/dev/null
done
echo "loadavg at end: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$OUT/versions.txt"
exit $rc
