#!/usr/bin/env bash
# Measure real corosync (Debian 3.1.7, knet transport) failure detection.
#
# Topology (namespaces created and deleted by this script):
#   hsm-cbr : bridge br0 with ports p-n1, p-n2, p-n3 (no IP address)
#   hsm-n1..hsm-n3 : eth0 10.200.1.{1,2,3}/24, one corosync each (nodeid 1..3)
# Each corosync runs in its own mount namespace (unshare -m) with a private
# tmpfs on /run, because corosync's lock file /run/corosync.pid is compiled in;
# its state_dir (system.state_dir) and log file are per node under $WORK.
# libqb IPC uses abstract unix sockets, which are per network namespace, so
# the corosync-* tools run with `ip netns exec hsm-nX` talk to node X.
#
# Faults, each repeated REPS times for token=1000 and token=3000 (all other
# totem values default; crypto off):
#   kill : kill -9 of n3's corosync (the process dies at once, sends nothing)
#   part : iptables in n3's namespace drops all IPv4 from/to 10.200.1.1 and
#          10.200.1.2 (INPUT and OUTPUT), i.e. n3 is cut off from n1 and n2.
# Measured on n1 from its log (timestamp: hires = millisecond resolution):
#   fault -> "A processor failed, forming new configuration" (token timeout)
#   fault -> "A new membership (...) was formed. Members left: 3"
#   fault -> "Members[2]: 1 2" (votequorum) and "quorum ... regained/ Quorate"
#
# Usage (from the repo root):
#   bash reports/real-measurements/corosync-failure-detection.sh
# Environment: REPS (default 6), TOKENS (default "1000 3000"),
#   FAULTS (default "kill part"), OUT (default .../data/corosync),
#   TOKEN_LEN (UDP payload size of a knet packet n3 -> n1 carrying the idle
#   ring's token; default 71 = what knet 1.25 + corosync 3.1.7 send with crypto
#   off and an empty retransmit list; knet pings/pongs are 26 bytes).
set -uo pipefail
# Bounded run: re-run this script under timeout(1); its SIGTERM triggers the
# cleanup trap below (SIGKILL 30 s later if cleanup itself hangs).
if [ -z "${HSM_BOUNDED:-}" ]; then
	HSM_BOUNDED=1 exec timeout --kill-after=30 "${MAX_SECONDS:-1500}" bash "${BASH_SOURCE[0]}" "$@"
fi

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPS=${REPS:-6}
TOKEN_LEN=${TOKEN_LEN:-71}
TOKENS=${TOKENS:-"1000 3000"}
FAULTS=${FAULTS:-"kill part"}
OUT=${OUT:-$HERE/data/corosync}
WORK=/tmp/hsm-corosync
MAX_SECONDS=${MAX_SECONDS:-1500}
NS_BR=hsm-cbr
NODES="1 2 3"
PIDS=()

log() { printf '[%s] %s\n' "$(date -u +%T.%3N)" "$*" >&2; }

corosync_pid() { # node -> pid of the corosync process in that namespace
	local p
	for p in $(ip netns pids "hsm-n$1" 2>/dev/null); do
		[ "$(cat /proc/"$p"/comm 2>/dev/null)" = corosync ] && { echo "$p"; return 0; }
	done
	return 1
}

kill_started() {
	local n p
	for n in $NODES; do
		p=$(corosync_pid "$n") && kill -9 "$p" 2>/dev/null
	done
	for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
	PIDS=()
}

cleanup() {
	kill_started
	sleep 0.2
	for n in $NODES; do ip netns del "hsm-n$n" 2>/dev/null; done
	ip netns del "$NS_BR" 2>/dev/null
}

on_exit() { local rc=$?; cleanup; exit $rc; }
trap on_exit EXIT
trap 'log "interrupted"; exit 130' INT TERM

setup_net() {
	cleanup
	ip netns add "$NS_BR" || return 1
	ip -n "$NS_BR" link set lo up
	ip -n "$NS_BR" link add br0 type bridge
	ip -n "$NS_BR" link set br0 up
	local n
	for n in $NODES; do
		ip netns add "hsm-n$n" || return 1
		ip -n "hsm-n$n" link set lo up
		ip -n "$NS_BR" link add "p-n$n" type veth peer name eth0 netns "hsm-n$n" || return 1
		ip -n "$NS_BR" link set "p-n$n" master br0 up
		ip -n "hsm-n$n" addr add "10.200.1.$n/24" dev eth0
		ip -n "hsm-n$n" link set eth0 up
	done
}

write_conf() { # node token
	local n=$1 token=$2 d="$WORK/n$1"
	mkdir -p "$d/state"
	cat >"$d/corosync.conf" <<-EOF
	totem {
	    version: 2
	    cluster_name: hsm
	    transport: knet
	    token: $token
	    crypto_cipher: none
	    crypto_hash: none
	}
	nodelist {
	    node {
	        ring0_addr: 10.200.1.1
	        nodeid: 1
	        name: n1
	    }
	    node {
	        ring0_addr: 10.200.1.2
	        nodeid: 2
	        name: n2
	    }
	    node {
	        ring0_addr: 10.200.1.3
	        nodeid: 3
	        name: n3
	    }
	}
	quorum {
	    provider: corosync_votequorum
	}
	logging {
	    to_logfile: yes
	    logfile: $d/corosync.log
	    to_syslog: no
	    to_stderr: no
	    timestamp: hires
	    debug: on
	}
	system {
	    state_dir: $d/state
	}
	EOF
}

start_node() { # node
	local n=$1 d="$WORK/n$1"
	ip netns exec "hsm-n$n" unshare -m --propagation private \
		sh -c 'mount -t tmpfs hsm-run /run && exec corosync -f -c "$1"' sh "$d/corosync.conf" \
		>>"$d/stdout.txt" 2>&1 </dev/null &
	PIDS+=($!)
	disown $! 2>/dev/null
}

# Convert corosync's local-time "Mon DD HH:MM:SS.mmm" prefix to epoch seconds.
line_epoch() { # logline
	local mon day tm
	read -r mon day tm _ <<<"$1"
	date -d "$mon $day $tm" +%s.%N
}

# First line matching PATTERN (fixed string) whose timestamp is >= T.
first_after() { # file t pattern -> epoch of that line ("" if none)
	local f=$1 t=$2 pat=$3 line e
	while IFS= read -r line; do
		e=$(line_epoch "$line") || continue
		if awk -v a="$e" -v b="$t" 'BEGIN{exit !(a>=b-0.001)}'; then
			echo "$e"; return 0
		fi
	done < <(grep -F -- "$pat" "$f")
	echo ""
}

wait_log_after() { # file t pattern timeout_s
	local deadline=$((SECONDS + $4)) e
	while [ $SECONDS -lt $deadline ]; do
		e=$(first_after "$1" "$2" "$3")
		[ -n "$e" ] && { echo "$e"; return 0; }
		sleep 0.2
	done
	return 1
}

sub() { awk -v a="$1" -v b="$2" 'BEGIN { if (a=="" || b=="") print "NA"; else printf "%.3f", a-b }'; }

n3_partition() {
	ip netns exec hsm-n3 iptables -I INPUT -s 10.200.1.1,10.200.1.2 -j DROP
	ip netns exec hsm-n3 iptables -I OUTPUT -d 10.200.1.1,10.200.1.2 -j DROP
}
n3_heal() { ip netns exec hsm-n3 iptables -F INPUT; ip netns exec hsm-n3 iptables -F OUTPUT; }

run_token() {
	local token=$1 dir="$OUT/token$1" n t0 fault rep
	mkdir -p "$dir"; rm -f "$dir"/*
	setup_net || { log "namespace setup failed"; return 1; }
	rm -rf "$WORK"; mkdir -p "$WORK"
	for n in $NODES; do write_conf "$n" "$token"; done
	cp "$WORK/n1/corosync.conf" "$dir/corosync-n1.conf"
	# what n1 receives from n3 (ring order 1 -> 2 -> 3 -> 1: n1 gets the token from n3)
	ip netns exec hsm-n1 tcpdump -i eth0 -n -tt -l --immediate-mode 'udp and src host 10.200.1.3' \
		>"$dir/tcpdump-n1-from-n3.txt" 2>/dev/null &
	PIDS+=($!)
	sleep 1
	t0=$EPOCHREALTIME
	for n in $NODES; do start_node "$n"; done
	if ! wait_log_after "$WORK/n1/corosync.log" "$t0" "Members[3]: 1 2 3" 30 >/dev/null; then
		log "token $token: no 3-node membership"; cp "$WORK"/n*/corosync.log "$dir/" 2>/dev/null; return 1
	fi
	wait_log_after "$WORK/n1/corosync.log" "$t0" "This node is within the primary component" 10 >/dev/null
	log "token $token: 3-node quorate ring formed"
	# effective timers as corosync logs them at startup (debug level)
	grep -E "Token Timeout|Token warning|token hold|join \(|downcheck|seqno unchanged|window size|missed count|heartbeat_failures|max_network_delay" \
		"$WORK/n1/corosync.log" | head -12 >"$dir/effective-timers-n1.txt"
	ip netns exec hsm-n1 corosync-cmapctl -b runtime.config.totem >"$dir/cmap-runtime-config-n1.txt" 2>&1
	sleep 2
	for fault in $FAULTS; do
		for rep in $(seq 1 "$REPS"); do
			sleep "0.$(printf %03d $((RANDOM % 1000)))"
			local tf t_tok t_memb t_q t_sync t_heal t_rejoin t_lasttok
			tf=$EPOCHREALTIME
			if [ "$fault" = kill ]; then
				kill -9 "$(corosync_pid 3)"
			else
				n3_partition
			fi
			t_memb=$(wait_log_after "$WORK/n1/corosync.log" "$tf" "Members left: 3" $((token / 100 + 20)))
			t_q=$(wait_log_after "$WORK/n1/corosync.log" "$tf" "Members[2]: 1 2" 10)
			t_sync=$(wait_log_after "$WORK/n1/corosync.log" "$tf" "Completed service synchronization" 10)
			t_tok=$(first_after "$WORK/n1/corosync.log" "$tf" "A processor failed, forming new configuration")
			# last token n1 received from n3 before the fault (knet packets of TOKEN_LEN bytes)
			t_lasttok=$(awk -v t="$tf" -v len="$TOKEN_LEN" '$1 < t && $NF + 0 == len {x = $1} END {print x}' "$dir/tcpdump-n1-from-n3.txt")
			# restore the 3-node ring
			t_heal=$EPOCHREALTIME
			if [ "$fault" = kill ]; then start_node 3; else n3_heal; fi
			t_rejoin=$(wait_log_after "$WORK/n1/corosync.log" "$t_heal" "Members[3]: 1 2 3" 60)
			printf '%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$token" "$fault" "$rep" "$tf" \
				"$(sub "$t_tok" "$tf")" "$(sub "$t_memb" "$tf")" "$(sub "$t_q" "$tf")" "$(sub "$t_sync" "$tf")" \
				"$(sub "$t_memb" "$t_tok")" "$(sub "$t_rejoin" "$t_heal")" \
				"$(sub "$tf" "$t_lasttok")" "$(sub "$t_tok" "$t_lasttok")" >>"$OUT/detection.tsv"
			log "token $token $fault rep $rep: token-timeout $(sub "$t_tok" "$tf") s, membership $(sub "$t_memb" "$tf") s, quorum line $(sub "$t_q" "$tf") s, rejoin $(sub "$t_rejoin" "$t_heal") s"
			[ -z "$t_rejoin" ] && { log "3-node ring did not re-form"; return 1; }
			sleep 3
		done
	done
	kill_started
	sleep 0.5
	for n in $NODES; do
		# keep only the INFO/NOTICE lines and the timer dump (debug logs are large)
		grep -vE " debug  " "$WORK/n$n/corosync.log" >"$dir/corosync-n$n.notice.log"
	done
	# debug lines of n1 around each fault: membership state machine trace
	grep -E "TOTEM|QUORUM|KNET" "$WORK/n1/corosync.log" | grep -E "token was lost|A processor failed|entering GATHER|entering COMMIT|entering RECOVERY|entering OPERATIONAL|consensus|was formed|Members|link: host: 3|host: host: 3" >"$dir/corosync-n1.membership-trace.log"
}

mkdir -p "$OUT"
printf 'token\tfault\trep\tt_fault\tfault_to_token_timeout_log_s\tfault_to_new_membership_s\tfault_to_quorum_members2_s\tfault_to_sync_completed_s\ttoken_timeout_to_membership_s\trestore_to_3node_ring_s\tlast_token_rx_to_fault_s\tlast_token_rx_to_token_timeout_s\n' >"$OUT/detection.tsv"
{
	echo "date_utc: $(date -u +%FT%TZ)"
	echo "kernel: $(uname -r)"
	corosync -v 2>&1 | head -1
	dpkg-query -W corosync libknet1 libqb100 iptables 2>/dev/null
} >"$OUT/versions.txt"
rc=0
for tk in $TOKENS; do run_token "$tk" || rc=1; done
exit $rc
