#!/usr/bin/env bash
# Builds the regtest network's daemons from their Go modules, at the versions
# regtest/tools/go.mod pins, into .cache/regtest/bin (or $REGTEST_BIN).
# Rebuilds only when the pins change.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${REGTEST_BIN:-$PWD/.cache/regtest/bin}
stamp=$(sha256sum regtest/tools/go.mod regtest/tools/go.sum | sha256sum | cut -c1-16)
if [ -f "$out/.stamp" ] && [ "$(cat "$out/.stamp")" = "$stamp" ] && [ -x "$out/lnd" ]; then
	exit 0
fi
mkdir -p "$out"
echo "building lnd, lncli, btcd and btcctl into $out (a few minutes, once)"
cd regtest/tools
# lnd's sub-servers that lndclient needs; lowscrypt makes wallet creation
# instant (test builds only).
go build -tags "signrpc walletrpc chainrpc invoicesrpc routerrpc peersrpc lowscrypt" -o "$out/" \
	github.com/lightningnetwork/lnd/cmd/lnd github.com/lightningnetwork/lnd/cmd/lncli \
	github.com/btcsuite/btcd github.com/btcsuite/btcd/cmd/btcctl
echo "$stamp" > "$out/.stamp"
