#!/usr/bin/env bash
# Outcome counts of pacemaker-fence-race.sh's TSV files (data/pacemaker-fence-race/*.tsv and
# any batch*/ below it): per variant, how many runs ended with both nodes off, with node1 or
# node2 surviving, and whether the survivor was the DC before the partition; plus the median
# time from the partition to the first fence request of each run.
# usage: bash reports/real-measurements/fence-race-summary.sh [DIR]
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
DIR=${1:-$HERE/data/pacemaker-fence-race}
for v in nodelay delay; do
	files=$(find "$DIR" -name "$v.tsv" | sort)
	[ -n "$files" ] || continue
	# shellcheck disable=SC2086
	awk -F'\t' -v v="$v" '
		FNR == 1 { next }
		{
			n++; out[$4]++
			if ($4 ~ /survives/) { one++; s = $4; sub(/-survives/, "", s); if (s == $3) dcwin++ }
			a = ($7 == "NA") ? "" : $7; b = ($8 == "NA") ? "" : $8
			f = (a == "" || (b != "" && b + 0 < a + 0)) ? b : a
			if (f != "") req[++nr] = f
		}
		END {
			printf "%s: n=%d", v, n
			for (k in out) printf ", %s %d", k, out[k]
			printf "; one survivor: the DC before the partition survived in %d of %d\n", dcwin, one
			asort(req)
			if (nr) printf "%s: partition -> first fence request: median %.3f s (min %.3f, max %.3f, n=%d)\n", v, (nr % 2 ? req[(nr + 1) / 2] : (req[nr / 2] + req[nr / 2 + 1]) / 2), req[1], req[nr], nr
		}' $files
done
