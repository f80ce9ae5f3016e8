// An independent verifier of the office's transparency log, with Go's own
// golang.org/x/mod/sumdb/tlog and sumdb/note (Debian's golang-golang-x-mod-dev),
// run by tests/e2e/test_log_go_oracle.py against the office's service over HTTP.
//
// It reads one JSON request on stdin: the log's URL prefix (…/api/v1/log), its
// origin and verifier key, the entries whose inclusion to check and earlier
// checkpoints to check the log's consistency from.  It fetches the checkpoint
// and opens it with the verifier key; reads the tree only through C2SP tiles,
// which Go's TileHashReader verifies against the checkpoint's root; hashes
// each entry from its entry bundle itself; and checks the office's own
// inclusion and consistency proofs (from the proof endpoints) with
// tlog.CheckRecord and tlog.CheckTree.  It answers with its verdicts as JSON.
package main

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

type request struct {
	Prefix      string   `json:"prefix"`
	Origin      string   `json:"origin"`
	VerifierKey string   `json:"vkey"`
	Entries     []int64  `json:"entries"`
	Earlier     []string `json:"earlier"` // earlier checkpoints (signed notes) to check consistency from
}

type answer struct {
	Size         int64             `json:"size"`
	Root         string            `json:"root"`
	Entries      map[string]string `json:"entries"` // index -> the entry's data (base64) once its proof verified
	Errors       []string          `json:"errors"`
	Consistent   []int64           `json:"consistent"` // earlier sizes whose consistency verified
	TilesFetched int               `json:"tiles_fetched"`
}

var client = &http.Client{Timeout: 30 * time.Second}

func fetch(url string) ([]byte, error) {
	response, err := client.Get(url)
	if err != nil {
		return nil, err
	}
	defer response.Body.Close()
	body, err := io.ReadAll(io.LimitReader(response.Body, 1<<24))
	if err != nil {
		return nil, err
	}
	if response.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %d %s", url, response.StatusCode, strings.TrimSpace(string(body)))
	}
	return body, nil
}

// tiles reads C2SP tiles: Go names them tile/8/L/N[.p/W], the C2SP path drops the height.
type tiles struct {
	prefix  string
	fetched *int
}

func (t tiles) Height() int { return 8 }

func (t tiles) ReadTiles(wanted []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(wanted))
	for i, tile := range wanted {
		path := "tile/" + strings.TrimPrefix(tile.Path(), "tile/8/")
		data, err := fetch(t.prefix + "/" + path)
		if err != nil {
			return nil, err
		}
		*t.fetched++
		out[i] = data
	}
	return out, nil
}

func (t tiles) SaveTiles([]tlog.Tile, [][]byte) {}

// openCheckpoint verifies a checkpoint's signature and reads its tree (C2SP tlog-checkpoint).
func openCheckpoint(text []byte, verifiers note.Verifiers, origin string) (tlog.Tree, error) {
	opened, err := note.Open(text, verifiers)
	if err != nil {
		return tlog.Tree{}, err
	}
	lines := strings.SplitN(opened.Text, "\n", 4)
	if len(lines) < 4 || lines[0] != origin {
		return tlog.Tree{}, fmt.Errorf("the checkpoint is not of log %q", origin)
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil || size < 0 || lines[1] != strconv.FormatInt(size, 10) {
		return tlog.Tree{}, fmt.Errorf("malformed size %q", lines[1])
	}
	raw, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(raw) != tlog.HashSize {
		return tlog.Tree{}, fmt.Errorf("malformed root %q", lines[2])
	}
	var root tlog.Hash
	copy(root[:], raw)
	return tlog.Tree{N: size, Hash: root}, nil
}

func proofOf(prefix, query string) ([]tlog.Hash, error) {
	body, err := fetch(prefix + "/proof/" + query)
	if err != nil {
		return nil, err
	}
	var answer struct {
		Proof []string `json:"proof"`
	}
	if err := json.Unmarshal(body, &answer); err != nil {
		return nil, err
	}
	out := make([]tlog.Hash, len(answer.Proof))
	for i, value := range answer.Proof {
		raw, err := base64.StdEncoding.DecodeString(value)
		if err != nil || len(raw) != tlog.HashSize {
			return nil, fmt.Errorf("a proof hash is 32 bytes in base64")
		}
		copy(out[i][:], raw)
	}
	return out, nil
}

// entry reads entry index from its C2SP entry bundle (uint16 big-endian length before each entry).
func entry(prefix string, size, index int64) ([]byte, error) {
	tile := tlog.Tile{H: 8, L: 0, N: index / 256, W: 256}
	if (index/256+1)*256 > size {
		tile.W = int(size % 256)
	}
	path := "tile/entries/" + strings.TrimPrefix(tile.Path(), "tile/8/0/")
	data, err := fetch(prefix + "/" + path)
	if err != nil {
		return nil, err
	}
	for n := int64(0); n < int64(tile.W); n++ {
		if len(data) < 2 {
			return nil, fmt.Errorf("the entry bundle is truncated")
		}
		length := int(binary.BigEndian.Uint16(data))
		if len(data) < 2+length {
			return nil, fmt.Errorf("the entry bundle is truncated")
		}
		if tile.N*256+n == index {
			return data[2 : 2+length], nil
		}
		data = data[2+length:]
	}
	return nil, fmt.Errorf("entry %d is not in its bundle", index)
}

func main() {
	var req request
	if err := json.NewDecoder(os.Stdin).Decode(&req); err != nil {
		panic(err)
	}
	verifier, err := note.NewVerifier(req.VerifierKey)
	if err != nil {
		panic(err)
	}
	verifiers := note.VerifierList(verifier)
	ans := answer{Entries: map[string]string{}, Errors: []string{}, Consistent: []int64{}}
	fail := func(format string, args ...any) { ans.Errors = append(ans.Errors, fmt.Sprintf(format, args...)) }
	defer func() {
		if err := json.NewEncoder(os.Stdout).Encode(ans); err != nil {
			panic(err)
		}
	}()

	text, err := fetch(req.Prefix + "/checkpoint")
	if err != nil {
		fail("checkpoint: %v", err)
		return
	}
	tree, err := openCheckpoint(text, verifiers, req.Origin)
	if err != nil {
		fail("checkpoint: %v", err)
		return
	}
	ans.Size, ans.Root = tree.N, base64.StdEncoding.EncodeToString(tree.Hash[:])
	reader := tlog.TileHashReader(tree, tiles{req.Prefix, &ans.TilesFetched})
	if root, err := tlog.TreeHash(tree.N, reader); err != nil || root != tree.Hash {
		fail("the tiles do not make the checkpoint's root: %v", err)
		return
	}
	for _, index := range req.Entries {
		data, err := entry(req.Prefix, tree.N, index)
		if err != nil {
			fail("entry %d: %v", index, err)
			continue
		}
		proof, err := proofOf(req.Prefix, fmt.Sprintf("inclusion?index=%d&size=%d", index, tree.N))
		if err != nil {
			fail("entry %d: %v", index, err)
			continue
		}
		if err := tlog.CheckRecord(tlog.RecordProof(proof), tree.N, tree.Hash, index, tlog.RecordHash(data)); err != nil {
			fail("entry %d: the office's inclusion proof: %v", index, err)
			continue
		}
		own, err := tlog.ProveRecord(tree.N, index, reader)
		if err != nil || len(own) != len(proof) {
			fail("entry %d: Go's own proof from the tiles differs: %v", index, err)
			continue
		}
		ans.Entries[strconv.FormatInt(index, 10)] = base64.StdEncoding.EncodeToString(data)
	}
	for _, earlier := range req.Earlier {
		old, err := openCheckpoint([]byte(earlier), verifiers, req.Origin)
		if err != nil {
			fail("earlier checkpoint: %v", err)
			continue
		}
		proof, err := proofOf(req.Prefix, fmt.Sprintf("consistency?old=%d&size=%d", old.N, tree.N))
		if err != nil {
			fail("consistency from %d: %v", old.N, err)
			continue
		}
		if err := tlog.CheckTree(tlog.TreeProof(proof), tree.N, tree.Hash, old.N, old.Hash); err != nil {
			fail("consistency from %d: the office's proof: %v", old.N, err)
			continue
		}
		if root, err := tlog.TreeHash(old.N, reader); err != nil || root != old.Hash {
			fail("consistency from %d: the tiles give another root for that size", old.N)
			continue
		}
		ans.Consistent = append(ans.Consistent, old.N)
	}
}
