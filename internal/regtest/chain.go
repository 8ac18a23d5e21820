package regtest

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// btcd wipes a regtest chain whenever it starts ("Removing regression test
// database"), which would leave a kept network's lnd wallets and channel
// on a chain that no longer exists. So a kept network saves its blocks
// when it stops cleanly (lnd already stopped, btcd still up) and submits
// them again to the new, empty btcd before lnd starts: the same chain,
// block for block. Restarting takes the file, so a run that ends without
// saving (killed) leaves none, and the next run makes a new network
// rather than trust a chain that lags the wallets.
const chainFile = "chain.hex"

// call calls btcd's JSON-RPC (TLS with btcd's own certificate).
func (n *Network) call(method string, params ...any) (json.RawMessage, error) {
	if n.rpcClient == nil {
		pem, err := os.ReadFile(filepath.Join(n.Dir, "btcd", "rpc.cert"))
		if err != nil {
			return nil, err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, errors.New("btcd's rpc.cert holds no certificate")
		}
		n.rpcClient = &http.Client{Timeout: 30 * time.Second,
			Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	}
	if params == nil {
		params = []any{}
	}
	body, err := json.Marshal(map[string]any{"jsonrpc": "1.0", "id": 1, "method": method, "params": params})
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequest(http.MethodPost, "https://"+n.rpc+"/", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.SetBasicAuth("umeme", "umeme")
	req.Header.Set("Content-Type", "application/json")
	resp, err := n.rpcClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var out struct {
		Result json.RawMessage
		Error  *struct {
			Code    int
			Message string
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return nil, fmt.Errorf("btcd %s: HTTP %d: %w", method, resp.StatusCode, err)
	}
	if out.Error != nil {
		return nil, fmt.Errorf("btcd %s: %d %s", method, out.Error.Code, out.Error.Message)
	}
	return out.Result, nil
}

// saveChain writes every block after the genesis block, raw, one per line.
func (n *Network) saveChain() error {
	raw, err := n.call("getblockcount")
	if err != nil {
		return err
	}
	var height int
	if err := json.Unmarshal(raw, &height); err != nil {
		return err
	}
	tmp := filepath.Join(n.Dir, chainFile+".tmp")
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	for h := 1; h <= height; h++ {
		var hash, block string
		raw, err := n.call("getblockhash", h)
		if err == nil {
			err = json.Unmarshal(raw, &hash)
		}
		if err == nil {
			raw, err = n.call("getblock", hash, 0)
		}
		if err == nil {
			err = json.Unmarshal(raw, &block)
		}
		if err != nil {
			f.Close()
			os.Remove(tmp)
			return fmt.Errorf("block %d: %w", h, err)
		}
		w.WriteString(block + "\n") //nolint:errcheck // Flush reports it
	}
	if err := errors.Join(w.Flush(), f.Sync(), f.Close()); err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, filepath.Join(n.Dir, chainFile))
}

// takeChain reads the saved blocks and removes the file.
func takeChain(dir string) ([]string, error) {
	path := filepath.Join(dir, chainFile)
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if err := os.Remove(path); err != nil {
		return nil, err
	}
	return strings.Fields(string(b)), nil
}

// replayChain submits the saved blocks to an empty btcd, in order.
func (n *Network) replayChain(blocks []string) error {
	for i, b := range blocks {
		raw, err := n.call("submitblock", b)
		if err != nil {
			return fmt.Errorf("block %d: %w", i+1, err)
		}
		// btcd answers null when it takes the block, else why not.
		if s := strings.TrimSpace(string(raw)); s != "null" && s != "" {
			return fmt.Errorf("block %d refused: %s", i+1, s)
		}
	}
	return nil
}
