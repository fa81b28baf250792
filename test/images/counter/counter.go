/*
Copyright The kube-checkpoint Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

// counter is the test image of the local cluster and the e2e suite.
//
//	counter [-listen :8080] [-hold-mib N]
//
// counts ten times a second, prints every tenth count, and answers GET /count
// on its listening socket with the current count: a process whose state
// advances, so a checkpoint has something to capture and a test can see the
// container keep running after it. With -hold-mib it first allocates N MiB
// of distinct, touched pages and keeps them, so its checkpoint carries that
// much memory (the benchmark's memory sweep, the e2e timeout spec).
//
//	counter connect ADDRESS
//
// opens a TCP connection to ADDRESS and holds it open, reading, until the
// peer closes it: an established connection for a checkpoint to carry.
//
//	counter noop
//
// exits at once, successfully (an init container that completes).
//
//	counter inspect ARCHIVE...
//
// checks that each file is a CRIU checkpoint archive as the kubelet writes it
// (CRIU images under checkpoint/, the container's config.dump and spec.dump)
// and prints its size, mode and owner; run from a privileged pod that mounts the
// kubelet's checkpoint directory, it inspects archives on any node.
//
// Go listens with MPTCP by default since 1.24; CRIU cannot dump MPTCP
// sockets, so this program turns it off.
//
//go:debug multipathtcp=0
package main

import (
	"archive/tar"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "inspect":
			os.Exit(inspect(os.Args[2:]))
		case "connect":
			os.Exit(connect(os.Args[2:]))
		case "noop":
			return
		}
	}
	listen := flag.String("listen", ":8080", "address to answer GET /count on")
	holdMiB := flag.Int("hold-mib", 0, "MiB of memory to allocate, touch and keep")
	flag.Parse()
	held = hold(*holdMiB)

	var count atomic.Int64
	go func() {
		for range time.Tick(100 * time.Millisecond) {
			if n := count.Add(1); n%10 == 0 {
				fmt.Println("count", n)
			}
		}
	}()
	http.HandleFunc("/count", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, count.Load())
	})
	log.Fatal(http.ListenAndServe(*listen, nil))
}

// held keeps the -hold-mib memory reachable for the life of the process.
var held [][]byte

// hold allocates mib MiB in 1 MiB slices and writes every page with a value
// that differs from page to page, so none of it is shared or zero and CRIU
// must dump all of it.
func hold(mib int) [][]byte {
	chunks := make([][]byte, mib)
	for i := range chunks {
		chunks[i] = make([]byte, 1<<20)
		for off := 0; off < len(chunks[i]); off += 4096 {
			binary.LittleEndian.PutUint64(chunks[i][off:], uint64(i)<<20|uint64(off)|1)
		}
	}
	if mib > 0 {
		fmt.Println("holding", mib, "MiB")
	}
	return chunks
}

// connect holds one TCP connection open until the peer closes it.
func connect(args []string) int {
	if len(args) != 1 {
		fmt.Fprintln(os.Stderr, "usage: counter connect ADDRESS")
		return 2
	}
	var conn net.Conn
	var err error
	for range 100 { // the server may still be starting
		if conn, err = net.Dial("tcp", args[0]); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Printf("connected %s -> %s\n", conn.LocalAddr(), conn.RemoteAddr())
	_, err = io.Copy(io.Discard, conn)
	fmt.Println("connection closed:", err)
	return 0
}

// inspect prints "ARCHIVE: CRIU checkpoint, N bytes, mode M, K CRIU images"
// for each archive, or why it is not one, and fails if any is not.
func inspect(archives []string) int {
	status := 0
	for _, archive := range archives {
		summary, err := inspectArchive(archive)
		if err != nil {
			fmt.Printf("%s: %v\n", archive, err)
			status = 1
			continue
		}
		fmt.Printf("%s: %s\n", archive, summary)
	}
	return status
}

func inspectArchive(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close() //nolint:errcheck
	info, err := f.Stat()
	if err != nil {
		return "", err
	}
	images, seen := 0, map[string]bool{}
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return "", fmt.Errorf("not a tar archive: %w", err)
		}
		name := strings.TrimPrefix(h.Name, "./")
		seen[name] = true
		if strings.HasPrefix(name, "checkpoint/") && strings.HasSuffix(name, ".img") {
			images++
		}
	}
	for _, want := range []string{"checkpoint/inventory.img", "config.dump", "spec.dump"} {
		if !seen[want] {
			return "", fmt.Errorf("not a CRIU checkpoint archive: no %s", want)
		}
	}
	owner := "unknown"
	if st, ok := info.Sys().(*syscall.Stat_t); ok {
		owner = strconv.FormatUint(uint64(st.Uid), 10)
	}
	return fmt.Sprintf("CRIU checkpoint, %d bytes, mode %04o, owner uid %s, %d CRIU images", info.Size(), info.Mode().Perm(), owner, images), nil
}
