// An independent oracle for keys/tlog.py: Go's golang.org/x/mod/sumdb/tlog and
// sumdb/note (Debian's golang-golang-x-mod-dev), run by tests/unit/keys/test_tlog_go.py.
//
// It reads one JSON request on stdin: leaves (hex data), the inclusion and
// consistency proofs Python made, a signed note and the verifier key to open it
// with.  It answers with Go's own tree heads and proofs for the same leaves, its
// verdict on each of Python's proofs, and the note's text as Go reads it.
package main

import (
	"encoding/hex"
	"encoding/json"
	"os"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

type proofRequest struct {
	Index int64    `json:"index"`
	Old   int64    `json:"old"`
	Size  int64    `json:"size"`
	Proof []string `json:"proof"`
}

type request struct {
	Leaves      []string       `json:"leaves"`
	Inclusion   []proofRequest `json:"inclusion"`
	Consistency []proofRequest `json:"consistency"`
	Note        string         `json:"note"`
	VerifierKey string         `json:"vkey"`
}

type answer struct {
	Roots            []string   `json:"roots"`
	InclusionProofs  [][]string `json:"inclusion_proofs"`
	InclusionErrors  []string   `json:"inclusion_errors"`
	ConsistencyProof [][]string `json:"consistency_proofs"`
	ConsistencyError []string   `json:"consistency_errors"`
	NoteText         string     `json:"note_text"`
	NoteError        string     `json:"note_error"`
}

func hashes(values []string) []tlog.Hash {
	out := make([]tlog.Hash, len(values))
	for i, value := range values {
		raw, err := hex.DecodeString(value)
		if err != nil || len(raw) != tlog.HashSize {
			panic("a proof hash is 32 bytes in hex")
		}
		copy(out[i][:], raw)
	}
	return out
}

func strings(values []tlog.Hash) []string {
	out := make([]string, len(values))
	for i, value := range values {
		out[i] = hex.EncodeToString(value[:])
	}
	return out
}

func message(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func main() {
	var req request
	if err := json.NewDecoder(os.Stdin).Decode(&req); err != nil {
		panic(err)
	}
	var stored []tlog.Hash
	reader := tlog.HashReaderFunc(func(indexes []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(indexes))
		for i, index := range indexes {
			out[i] = stored[index]
		}
		return out, nil
	})
	var ans answer
	leafHashes := make([]tlog.Hash, len(req.Leaves))
	for n, leaf := range req.Leaves {
		data, err := hex.DecodeString(leaf)
		if err != nil {
			panic(err)
		}
		leafHashes[n] = tlog.RecordHash(data)
		more, err := tlog.StoredHashes(int64(n), data, reader)
		if err != nil {
			panic(err)
		}
		stored = append(stored, more...)
		root, err := tlog.TreeHash(int64(n+1), reader)
		if err != nil {
			panic(err)
		}
		ans.Roots = append(ans.Roots, hex.EncodeToString(root[:]))
	}
	rootOf := func(size int64) tlog.Hash {
		root, err := tlog.TreeHash(size, reader)
		if err != nil {
			panic(err)
		}
		return root
	}
	for _, p := range req.Inclusion {
		own, err := tlog.ProveRecord(p.Size, p.Index, reader)
		if err != nil {
			panic(err)
		}
		ans.InclusionProofs = append(ans.InclusionProofs, strings(own))
		err = tlog.CheckRecord(hashes(p.Proof), p.Size, rootOf(p.Size), p.Index, leafHashes[p.Index])
		ans.InclusionErrors = append(ans.InclusionErrors, message(err))
	}
	for _, p := range req.Consistency {
		own, err := tlog.ProveTree(p.Size, p.Old, reader)
		if err != nil {
			panic(err)
		}
		ans.ConsistencyProof = append(ans.ConsistencyProof, strings(own))
		err = tlog.CheckTree(hashes(p.Proof), p.Size, rootOf(p.Size), p.Old, rootOf(p.Old))
		ans.ConsistencyError = append(ans.ConsistencyError, message(err))
	}
	if req.Note != "" {
		verifier, err := note.NewVerifier(req.VerifierKey)
		if err != nil {
			ans.NoteError = err.Error()
		} else if opened, err := note.Open([]byte(req.Note), note.VerifierList(verifier)); err != nil {
			ans.NoteError = err.Error()
		} else {
			ans.NoteText = opened.Text
		}
	}
	if err := json.NewEncoder(os.Stdout).Encode(ans); err != nil {
		panic(err)
	}
}
