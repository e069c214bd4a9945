#!/usr/bin/env bash
# The demo of `make demo`: build everything, start the Panda simulator and
# the provisioning host (with the Panda plugin pointed at the simulator) on
# free loopback ports, then tell the story of the seed with provctl:
#
#   the forms of a direct customer, a reseller and its end customer (the
#   parent is not synchronized yet), the reseller synchronized, the end
#   customer's form with the parent pre-populated, the end customer
#   synchronized, a storefront order with --auto, a batch, the records,
#   then interworks Cloud BSS's view: its Service Management API, served by the
#   same daemon, called with curl. Then orders: the catalogue, a direct
#   customer's order checked, placed, replayed, resized, refused (an add-on
#   above its base), fixed, suspended, resumed and cancelled; an end customer's
#   order, for which the reseller's Panda allocation grows first; and an
#   interworks Subscription Create with its pre-check. Then the lifecycle: a
#   customer renamed in the BSS (sync updates Panda), renamed again in Panda's
#   console behind the host's back (reconcile reports the drift, sync undoes
#   it), and deletes: refused while an order is active, an end customer, a
#   reseller refused while it has end customers and deleted with --cascade.
#
# Everything it starts is stopped on exit, whatever happens. Logs and the
# generated host.yaml stay in .demo/ for a look afterwards. Secrets (the
# simulator's password and API key, the daemon's token, the interworks API
# key) are random per run,
# reach the host through env: and a token file, and are never printed.
#
# Run it from anywhere: ./scripts/demo.sh (or make demo).
set -euo pipefail

cd "$(dirname "$0")/.."
root=$PWD
bin=$root/bin
work=$root/.demo

if [[ -t 1 ]]; then bold=$'\033[1m' dim=$'\033[2m' reset=$'\033[0m'; else bold='' dim='' reset=''; fi

heading() { printf '\n%s== %s%s\n' "$bold" "$*" "$reset"; }
note() { printf '%s%s%s\n' "$dim" "$*" "$reset"; }
die() {
	printf 'demo: %s\n' "$*" >&2
	exit 1
}

# provctl runs provctl and shows the command first, the way a person types it.
provctl() {
	printf '%s$ provctl %s%s\n' "$dim" "$*" "$reset"
	"$bin/provctl" "$@"
}

# provctl_lines FIELDS ARGS...: provctl ARGS, showing only the table lines
# whose label matches FIELDS (an extended regexp: 'Status|Quantity'), where a
# whole record would repeat what the story already showed.
provctl_lines() {
	local fields=$1
	shift
	printf '%s$ provctl %s%s\n' "$dim" "$*" "$reset"
	"$bin/provctl" "$@" | grep -E "^($fields):"
}

# expect CODE provctl ...: a step whose exit code is part of the story.
expect() {
	local want=$1 got=0
	shift
	"$@" || got=$?
	[[ $got == "$want" ]] || die "expected exit code $want from '$*', got $got"
}

# allocations PANDA_ACCOUNT_ID...: the licence allocations pandasim holds for
# these Panda accounts, read from its state dump with grep, sed and awk (no
# jq), one line each with the account's name.
allocations() {
	printf '%s$ curl -s %s/_sim/state   # its allocations, as a table%s\n' "$dim" "$sim_url" "$reset"
	local state names allocs
	state=$(curl -fsS "$sim_url/_sim/state") || die "pandasim did not answer /_sim/state"
	names=$(grep -o '"id":"[^"]*","parentId":"[^"]*","type":[0-9]*,"name":"[^"]*"' <<<"$state" |
		sed 's/^"id":"\([^"]*\)".*"name":"\([^"]*\)"$/N \1 \2/') || true
	allocs=$(grep -o '{"accountId":"[^"]*","productName":"[^"]*","allocationType":"[^"]*","quantity":[0-9]*' <<<"$state" |
		sed 's/^{"accountId":"\([^"]*\)","productName":"\([^"]*\)","allocationType":"\([^"]*\)","quantity":\([0-9]*\)$/A \1 \2 \3 \4/') || true
	printf '%s\n%s\n' "$names" "$allocs" | awk -v want="$*" '
		BEGIN { n = split(want, w, " "); for (i = 1; i <= n; i++) keep[w[i]] = 1
			printf "%-13s %-18s %-17s %-13s %s\n", "PANDA ACCOUNT", "NAME", "PRODUCT", "TYPE", "QUANTITY" }
		$1 == "N" { id = $2; $1 = ""; $2 = ""; sub(/^ +/, ""); name[id] = $0 }
		$1 == "A" && ($2 in keep) { printf "%-13s %-18s %-17s %-13s %s\n", $2, name[$2], $3, $4, $5; c++ }
		END { if (!c) print "(no allocations)" }'
}

# remote_id ACCOUNT_ID: the Panda account id the host stored for a BSS account.
remote_id() { "$bin/provctl" records | awk -v id="$1" '$1 == id { print $4 }'; }

# secret prints 32 random hex characters.
secret() { od -An -N16 -tx1 /dev/urandom | tr -d ' \n'; }

sha256() {
	if command -v sha256sum >/dev/null; then
		sha256sum "$1" | cut -d' ' -f1
	else
		shasum -a 256 "$1" | cut -d' ' -f1
	fi
}

# wait_line FILE PREFIX PID: the rest of the first line of FILE starting with
# PREFIX, once the process PID has printed it (10s at most).
wait_line() {
	local file=$1 prefix=$2 pid=$3 line
	for _ in $(seq 100); do
		line=$(grep -m1 "^$prefix" "$file" 2>/dev/null || true)
		if [[ -n $line ]]; then
			printf '%s\n' "${line#"$prefix"}"
			return 0
		fi
		kill -0 "$pid" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

# stop PID NAME: SIGTERM, then wait up to 20s before SIGKILL.
stop() {
	local pid=$1 name=$2
	kill -0 "$pid" 2>/dev/null || return 0
	kill -TERM "$pid" 2>/dev/null || true
	for _ in $(seq 200); do
		kill -0 "$pid" 2>/dev/null || {
			wait "$pid" 2>/dev/null || true
			return 0
		}
		sleep 0.1
	done
	note "$name did not stop in 20s; killing it"
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}

sim_pid='' host_pid='' plugin_pids='' tee_pid=''
cleanup() {
	local code=$?
	trap - EXIT INT TERM
	if [[ $code == 130 || $code == 143 ]]; then
		printf '\ndemo interrupted; stopping everything\n' >&2
	elif [[ $code != 0 ]]; then
		printf '\ndemo failed (exit %s). The last log lines:\n' "$code" >&2
		for f in "$work/provisioning-host.log" "$work/pandasim.log"; do
			[[ -f $f ]] && { printf -- '--- %s\n' "${f#"$root"/}" >&2; tail -n 15 "$f" >&2; }
		done
	fi
	[[ -n $host_pid ]] && stop "$host_pid" provisioning-host
	[[ -n $sim_pid ]] && stop "$sim_pid" pandasim
	# The host stops its plugins' process groups; make sure none outlived it.
	for pid in $plugin_pids; do
		if kill -0 "$pid" 2>/dev/null; then
			printf 'demo: plugin process %s outlived the host; killing it\n' "$pid" >&2
			kill -KILL "$pid" 2>/dev/null || true
			code=1
		fi
	done
	# Let the transcript's tee write the last lines before the prompt returns.
	if [[ -n $tee_pid ]]; then
		exec >&- 2>&-
		wait "$tee_pid" 2>/dev/null || true
	fi
	exit "$code"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

heading "Building into bin/"
(cd "$root" && go build -o bin/ ./cmd/...)
note "$(cd "$bin" && ls | tr '\n' ' ')"

rm -rf "$work"
mkdir -p "$work"
umask 077
# The transcript: everything the demo prints also goes to .demo/demo.txt, so
# that the last step checks what was printed, not only what was logged. tee
# ignores Ctrl-C, which reaches the whole process group: it must outlive the
# script's cleanup, or the cleanup's first line would die of SIGPIPE before
# stopping anything.
exec > >(trap '' INT TERM && exec tee "$work/demo.txt") 2>&1
tee_pid=$!

# Per-run secrets: the simulator accepts them, the host reads them from the
# environment and a file, provctl sends the token. None is printed.
export PANDA_PASSWORD PANDA_API_KEY INTERWORKS_API_KEY
PANDA_PASSWORD=$(secret)
PANDA_API_KEY=$(secret)
INTERWORKS_API_KEY=$(secret)
secret >"$work/token"

heading "Starting pandasim (the Panda API simulator) and provisioning-host"
PANDASIM_PASSWORD=$PANDA_PASSWORD PANDASIM_API_KEY=$PANDA_API_KEY \
	"$bin/pandasim" --listen 127.0.0.1:0 >"$work/pandasim.out" 2>"$work/pandasim.log" &
sim_pid=$!
sim_url=$(wait_line "$work/pandasim.out" "pandasim listening on " "$sim_pid") || die "pandasim did not start; see .demo/pandasim.log"
note "pandasim listening on $sim_url"

plugin=$bin/provisioning-plugin-panda
cat >"$work/host.yaml" <<EOF
# Generated by scripts/demo.sh. Secrets come from the environment.
require_checksums: true
plugins:
  - name: panda
    path: $plugin
    sha256: "$(sha256 "$plugin")"
    settings:
      api_url: $sim_url
      access_id: demo
      password: env:PANDA_PASSWORD
      api_key: env:PANDA_API_KEY
      root_account_id: ACC-0000001
    # What interworks Cloud BSS presents on its Service Management calls.
    service_manager:
      application_id: demo-interworks
      api_key: env:INTERWORKS_API_KEY
EOF
"$bin/provisioning-host" --config "$work/host.yaml" --listen 127.0.0.1:0 --data-dir "$work/data" \
	--auth-token-file "$work/token" --service-manager-listen 127.0.0.1:0 \
	>"$work/provisioning-host.out" 2>"$work/provisioning-host.log" &
host_pid=$!
addr=$(wait_line "$work/provisioning-host.out" "provisioning-host listening on " "$host_pid") ||
	die "provisioning-host did not start; see .demo/provisioning-host.log"
sm_url=$(wait_line "$work/provisioning-host.out" "provisioning-host service manager listening on " "$host_pid") ||
	die "provisioning-host did not start its service manager endpoint; see .demo/provisioning-host.log"
plugin_pids=$(pgrep -P "$host_pid" || true)
note "provisioning-host listening on $addr (bearer token required), plugin pid ${plugin_pids:-?}"
note "interworks Service Management endpoint: $sm_url/panda/api/ (application id + API key required)"
note "host.yaml, logs and the sync-record database are in .demo/"

export PROVCTL_HOST=$addr PROVCTL_TOKEN_FILE=$work/token
cd "$root"

heading "The host and its plugin"
provctl plugins
provctl probe

heading "1. The form of a direct customer: a Panda User under the BSS owner's own partner account"
provctl options examples/direct-customer.json

heading "2. The form of a reseller: a Panda Reseller"
provctl options examples/reseller.json

heading "3. The form of the reseller's end customer, before the reseller is synchronized"
note "The parent account is empty and the form says why:"
provctl options examples/end-customer.json
note "Synchronizing it now fails the same way, with the gRPC code and the field:"
expect 4 provctl sync examples/end-customer.json --auto

heading "4. Save & Synchronize the reseller"
provctl sync examples/reseller.json --set role=Reseller --set username=acme-resellers

heading "5. The end customer's form again: the parent is pre-populated with the reseller's Panda account"
provctl options examples/end-customer.json

heading "6. Check, then Save & Synchronize the end customer"
provctl validate examples/end-customer.json --set role=User --set username=umbrella-admin
provctl sync examples/end-customer.json --set role=User --set username=umbrella-admin
note "Synchronize is idempotent: the same call again creates nothing."
provctl sync examples/end-customer.json --set role=User --set username=umbrella-admin

heading "7. A storefront order: no form, every value from its default"
provctl sync examples/storefront-order.json --auto

heading "8. A batch: three resellers and their end customers, in any order"
note "One reseller has a bad corporate email: it fails, and its end customer is skipped (exit code 7)."
expect 7 provctl sync-batch examples/batch.jsonl --auto -o table

heading "9. The sync records the host stores"
provctl records

heading "10. interworks Cloud BSS calls the same host over its Service Management API"
# interworks POSTs JSON with its application id and API key. The key is
# shown as a variable, never its value.
interworks() {
	local route=$1 track=$2 body=$3
	printf '%s$ curl -X POST %s/panda/api/%s -H "X-CloudPlatform-ApplicationId: demo-interworks" -H "X-CloudPlatform-APIKey: $INTERWORKS_API_KEY" -H "X-CloudPlatform-TrackId: %s" -d @body.json%s\n' \
		"$dim" "$sm_url" "$route" "$track" "$reset"
	curl -sS -X POST "$sm_url/panda/api/$route" -H 'Content-Type: application/json' \
		-H 'X-CloudPlatform-ApplicationId: demo-interworks' -H "X-CloudPlatform-APIKey: $INTERWORKS_API_KEY" \
		-H "X-CloudPlatform-TrackId: $track" -d "$body"
}
if command -v curl >/dev/null; then
	note "A storefront order: interworks fills the username option with the customer's email;"
	note "the answer reports the valid, unique Panda username used instead (AccountExtraInfo.username)."
	body='{"ID":"IW-7001","Name":"Initech","Email":"peter.gibbons@initech.example",'
	body+='"ContactDetails":{"PrimaryFirstName":"Peter","PrimaryLastName":"Gibbons","PrimaryEmail":"peter.gibbons@initech.example"},'
	body+='"Address":{"Country":{"Code":"US"}},"SyncOptions":{"username":"peter.gibbons@initech.example"}}'
	note "body.json: $body"
	answer=$(interworks Accounts/Synchronize demo-1 "$body")
	printf '%s\n' "$answer"
	[[ $answer == *'"Code":0'* ]] || die "the interworks Synchronize did not succeed"
	note "interworks retries it: the same Result, nothing created."
	answer=$(interworks accounts/synchronize demo-2 "$body")
	printf '%s\n' "$answer"
	note "A caller with the wrong API key:"
	status=$(curl -sS -o /dev/null -w '%{http_code}' -X POST "$sm_url/panda/api/Accounts/Synchronize" \
		-H 'X-CloudPlatform-ApplicationId: demo-interworks' -H 'X-CloudPlatform-APIKey: wrong' -d "$body")
	printf 'HTTP %s\n' "$status"
	[[ $status == 401 ]] || die "a wrong interworks API key got HTTP $status, want 401"
	note "The daemon's log line of the first call carries interworks' track id:"
	grep -F 'track_id=demo-1' "$work/provisioning-host.log" | cut -c1-200 || true
	note "docs/interworks.md says how to register this endpoint in Cloud BSS."
else
	note "curl is not installed: skipping the interworks calls (see docs/interworks.md)."
fi

heading "11. Orders: the catalogue, then a direct customer's order"
note "Licences of a base product (EPP, EDR, EPDR, ADVANCED_EPDR) and add-on modules, one allocation each in Panda."
provctl products
note "examples/orders/storefront-order.json: Initech (C-3001, synchronized in step 7) orders 10 EDR with 10 Full Encryption."
note "The check-only pass first: the same rules, nothing changes."
provctl subscribe examples/orders/storefront-order.json --check
provctl subscribe examples/orders/storefront-order.json
note "The file is the desired state, not a change: sent again, nothing is allocated twice."
provctl_lines 'Quantity|Add-ons|Result' subscribe examples/orders/storefront-order.json
note "Five more endpoints: the stored desired state with a new quantity (the add-on keeps its 10)."
provctl subscription set-quantity S-3101 15

heading "12. An add-on above its base product is refused"
note "storefront-order-addon-above-base.json asks for 20 Full Encryption on 15 EDR (INVALID_ARGUMENT, exit code 3)."
expect 3 provctl subscribe examples/orders/storefront-order-addon-above-base.json
note "Nothing changed in Panda; the record says failed, with the reason, so the BSS can list what to fix:"
provctl subscriptions --status failed
note "Panda still holds what the record lists (15 EDR, 10 Full Encryption); the refused order is kept as the desired state:"
provctl_lines 'Status|Quantity|Add-ons|Desired|Error reason' subscription get S-3101
note "The fix the hint offers, raising the base product to 20, makes the order whole:"
provctl_lines 'Status|Quantity|Add-ons|Result' subscription set-quantity S-3101 20

heading "13. Suspend, resume, cancel"
note "Panda has no pause: suspend releases the licences and the record keeps the quantity for resume."
provctl_lines 'Status|Quantity|Add-ons|Result|Message' subscription suspend S-3101
provctl_lines 'Status|Quantity|Add-ons|Result|Message' subscription resume S-3101
note "What Panda holds now, read back from Panda (--refresh; a disagreement would be a REMOTE_DRIFT warning):"
provctl subscription get S-3101 --refresh
if command -v curl >/dev/null; then
	note "The same, in pandasim's own state:"
	allocations "$(remote_id C-3001)"
fi
provctl_lines 'Status|Result|Message' subscription cancel S-3101
note "Cancel is terminal: a later change is refused (FAILED_PRECONDITION, exit code 4)."
expect 4 provctl subscription set-quantity S-3101 25

heading "14. An end customer's order: the reseller's allocation grows first"
note "examples/orders/subscription.json: Umbrella Pharmacy (C-2002), the end customer of Acme Resellers (R-2001),"
note "orders 25 EPDR with 25 Patch Management. The licences come from the reseller's stock, which is empty:"
reseller=$(remote_id R-2001) customer=$(remote_id C-2002)
if command -v curl >/dev/null; then allocations "$reseller" "$customer"; fi
provctl subscribe examples/orders/subscription.json --check
provctl subscribe examples/orders/subscription.json
if command -v curl >/dev/null; then
	note "The reseller was topped up from the root by what was missing, then the customer's allocation drawn from it:"
	allocations "$reseller" "$customer"
fi
note "Every order the host stores:"
provctl subscriptions

if command -v curl >/dev/null; then
	heading "15. interworks orders: Subscription Create through the Service Management endpoint"
	note "The account interworks synchronized in step 10 (IW-7001) orders 10 EPP with 10 Data Control. Cloud BSS's pre-check"
	note "first (?checkonly=true), then the order; Result is the subscription id interworks sends back on later calls."
	order='{"SubscriptionID":"IW-S-9001","Account":{"ID":"IW-7001"},"ProductID":"EPP","Quantity":10,'
	order+='"AttributeList":[{"ID":"allocation_type","Value":"subscription"}],"Addons":[{"ProductID":"DATA_CONTROL","Quantity":10}]'
	note "body.json: $order}"
	answer=$(interworks 'Subscriptions/Create?checkonly=true' demo-3 "$order}")
	printf '%s\n' "$answer"
	[[ $answer == *'"Code":0'* ]] || die "the interworks pre-check did not pass"
	answer=$(interworks Subscriptions/Create demo-4 "$order}")
	printf '%s\n' "$answer"
	[[ $answer == *'"Code":0'* && $answer == *ACTIVE* ]] || die "the interworks Subscription Create did not succeed"
	note "A pre-check Cloud BSS must refuse: 20 Data Control on 10 EPP (Code -3, the field named in interworks' terms)."
	over='{"ID":"IW-S-9001","Account":{"ID":"IW-7001"},"ProductID":"EPP","Quantity":10,"Addons":[{"ProductID":"DATA_CONTROL","Quantity":20}]}'
	note "body.json: $over"
	answer=$(interworks 'Subscriptions/Update?checkonly=true' demo-5 "$over")
	printf '%s\n' "$answer"
	[[ $answer == *'"Code":-3'* ]] || die "the interworks pre-check of an add-on above its base did not answer -3"
	provctl_lines 'Subscription|Account|Product|Status|Quantity|Add-ons' subscription get IW-S-9001
fi

heading "16. The BSS renames a customer: Synchronize pushes the change"
note "examples/end-customer-renamed.json: Umbrella Pharmacy (C-2002) is now Umbrella Health, with a new corporate email."
note "The same sync, on an account Panda already has: its name and email are updated in place."
provctl sync examples/end-customer-renamed.json --set role=User --set username=umbrella-admin
note "Sent again, nothing is updated: Panda already matches."
provctl_lines 'Account|Status|Created' sync examples/end-customer-renamed.json --set role=User --set username=umbrella-admin

heading "17. Drift: someone renames the account in Panda's console, behind the host's back"
if command -v curl >/dev/null; then
	note "pandasim's test hook changes the account as an operator in the console would:"
	printf '%s$ curl -X PATCH %s/_sim/accounts/%s -d '"'"'{"name":"Umbrella Health (console)"}'"'"'%s\n' "$dim" "$sim_url" "$customer" "$reset"
	curl -fsS -X PATCH "$sim_url/_sim/accounts/$customer" -d '{"name":"Umbrella Health (console)"}'
	echo
	note "provctl reconcile refreshes every stored record from Panda and reports what disagrees (exit code 7 on drift):"
	expect 7 provctl reconcile
	note "Reconcile reports and corrects nothing; the next sync pushes the BSS's name back to Panda:"
	provctl_lines 'Account|Status|Created' sync examples/end-customer-renamed.json --set role=User --set username=umbrella-admin
	provctl reconcile
else
	note "curl is not installed: skipping the console rename; provctl reconcile finds every record in step."
	provctl reconcile
fi

heading "18. Delete"
note "An account with an active order is refused (HAS_SUBSCRIPTIONS, exit code 4): cancel its subscriptions first."
expect 4 provctl delete C-2002
note "An end customer with no subscription: its Panda operator and account go, the record stays, deleted."
provctl delete C-4202
note "Delete is idempotent:"
provctl_lines 'Account|Status|Deleted' delete C-4202
note "A reseller with end customers is refused (HAS_CHILDREN, exit code 4) unless --cascade, which deletes them first:"
expect 4 provctl delete R-4100
provctl delete R-4100 --cascade
provctl records --status deleted

heading "Shutting down"
stop "$host_pid" provisioning-host
host_pid=''
stop "$sim_pid" pandasim
sim_pid=''
for pid in $plugin_pids; do
	! kill -0 "$pid" 2>/dev/null || die "plugin process $pid outlived the host"
done
note "provisioning-host, its Panda plugin and pandasim stopped; nothing left running."
for s in "$PANDA_PASSWORD" "$PANDA_API_KEY" "$INTERWORKS_API_KEY" "$(cat "$work/token")"; do
	! grep -qrF -- "$s" "$work"/*.log "$work"/*.out "$work/demo.txt" || die "a secret reached a log in .demo/ or the output"
done
note "No secret reached a log or the output."
printf '\n%sDemo complete.%s Try: bin/provctl --help\n' "$bold" "$reset"
