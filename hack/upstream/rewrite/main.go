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

// Command rewrite turns a Go file of this repository into the file it is in
// kubernetes/kubernetes, for the upstream patch series (hack/upstream):
//
//	rewrite -pkg IMPORTPATH [-name NAME] SRC DEST
//	    writes SRC to DEST as a file of package IMPORTPATH: this repository's
//	    import paths become upstream's, a package imported twice under two
//	    names after that is imported once, a package that is now the file's
//	    own is no longer imported, and the copyright names the Kubernetes
//	    Authors. -name gives the file the upstream package's name.
//	rewrite -insert-after TYPE SRC DEST
//	    inserts the declarations of SRC (everything after its imports) into
//	    the existing DEST after the declaration of type TYPE.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"go/ast"
	"go/format"
	"go/parser"
	"go/token"
	"os"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/tools/go/ast/astutil"
)

// upstreamPaths maps this repository's import path prefixes to upstream's,
// longest first.
var upstreamPaths = [][2]string{
	{"github.com/kube-checkpoint/client-go/api/core/v1", "k8s.io/api/core/v1"},
	{"github.com/kube-checkpoint/client-go/", "k8s.io/client-go/"},
	{"github.com/kube-checkpoint/kubectl/", "k8s.io/kubectl/"},
	{"github.com/kube-checkpoint/kubernetes/", "k8s.io/kubernetes/"},
}

// UpstreamPath returns the upstream import path of p.
func UpstreamPath(p string) string {
	for _, m := range upstreamPaths {
		if p == strings.TrimSuffix(m[0], "/") {
			return strings.TrimSuffix(m[1], "/")
		}
		if strings.HasPrefix(p, m[0]) && strings.HasSuffix(m[0], "/") {
			return m[1] + strings.TrimPrefix(p, m[0])
		}
	}
	return p
}

var importComment = regexp.MustCompile(`(?m)(^package \w+) // import "[^"]*"$`)

const ourCopyright = "Copyright The kube-checkpoint Authors."
const upstreamCopyright = "Copyright The Kubernetes Authors."

func main() {
	pkg := flag.String("pkg", "", "the upstream import path of the package the file lands in")
	after := flag.String("insert-after", "", "insert SRC's declarations into DEST after this type")
	name := flag.String("name", "", "with -pkg: the upstream package's name, where it is not SRC's")
	flag.Parse()
	if flag.NArg() != 2 || (*pkg == "") == (*after == "") {
		fmt.Fprintln(os.Stderr, "usage: rewrite (-pkg IMPORTPATH [-name NAME] | -insert-after TYPE) SRC DEST")
		os.Exit(2)
	}
	src, err := os.ReadFile(flag.Arg(0))
	if err == nil {
		var out []byte
		if *pkg != "" {
			out, err = Rewrite(src, *pkg, *name)
		} else {
			var dest []byte
			if dest, err = os.ReadFile(flag.Arg(1)); err == nil {
				out, err = InsertAfter(dest, src, *after)
			}
		}
		if err == nil {
			err = os.WriteFile(flag.Arg(1), out, 0o644)
		}
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "rewrite %s: %v\n", flag.Arg(0), err)
		os.Exit(1)
	}
}

type importSpec struct {
	name, path, comment string
}

// Rewrite returns src as a file of the upstream package pkg.
func Rewrite(src []byte, pkg, name string) ([]byte, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "", src, parser.ParseComments)
	if err != nil {
		return nil, err
	}
	if name != "" {
		if f.Doc != nil {
			// The package's doc comment is the upstream package's own.
			for i, cg := range f.Comments {
				if cg == f.Doc {
					f.Comments = append(f.Comments[:i], f.Comments[i+1:]...)
					break
				}
			}
			f.Doc = nil
		}
		f.Name.Name = name
	}
	// The name each import is referred to by, and what it becomes.
	rename := map[string]string{} // old name -> new name ("" = own package)
	kept := map[string]string{}   // upstream path -> name
	var specs []importSpec
	// Upstream's own imports come first so that theirs keep their names.
	ordered := append([]*ast.ImportSpec{}, f.Imports...)
	sort.SliceStable(ordered, func(i, j int) bool {
		return !isOurs(importPath(ordered[i])) && isOurs(importPath(ordered[j]))
	})
	for _, s := range ordered {
		old := importPath(s)
		up := UpstreamPath(old)
		name := path.Base(old)
		if s.Name != nil {
			name = s.Name.Name
		}
		comment := ""
		if s.Comment != nil {
			comment = strings.TrimSpace(s.Comment.Text())
		}
		switch {
		case up == pkg && !strings.HasSuffix(f.Name.Name, "_test"):
			// (an external test package imports the package it tests)
			rename[name] = ""
		case kept[up] != "" && name != "_":
			rename[name] = kept[up]
		default:
			if name != "_" && name != "." {
				kept[up] = name
			}
			specName := ""
			if s.Name != nil {
				specName = s.Name.Name
			}
			// A name that only repeated the old path's last element says
			// nothing once the path changed.
			if specName != "" && specName == defaultName(up) {
				specName = ""
			}
			specs = append(specs, importSpec{name: specName, path: up, comment: comment})
		}
	}
	astutil.Apply(f, nil, func(c *astutil.Cursor) bool {
		sel, ok := c.Node().(*ast.SelectorExpr)
		if !ok {
			return true
		}
		id, ok := sel.X.(*ast.Ident)
		if !ok || id.Obj != nil {
			return true
		}
		to, ok := rename[id.Name]
		switch {
		case !ok:
		case to == "":
			c.Replace(sel.Sel)
		default:
			id.Name = to
		}
		return true
	})
	// The import block is written anew below.
	var decls []ast.Decl
	for _, d := range f.Decls {
		if g, ok := d.(*ast.GenDecl); ok && g.Tok == token.IMPORT {
			continue
		}
		decls = append(decls, d)
	}
	f.Decls = decls
	f.Imports = nil
	var buf bytes.Buffer
	if err := format.Node(&buf, fset, f); err != nil {
		return nil, err
	}
	out := buf.String()
	// Drop the comments that were attached to the removed import block.
	for _, s := range specs {
		if s.comment != "" {
			out = strings.Replace(out, "// "+s.comment+"\n", "", 1)
		}
	}
	out = strings.Replace(out, ourCopyright, upstreamCopyright, 1)
	out = strings.Replace(out, "\npackage "+f.Name.Name+"\n", "\npackage "+f.Name.Name+"\n\n"+importBlock(specs), 1)
	// A package clause's import comment names this repository's path.
	out = importComment.ReplaceAllString(out, "$1")
	res, err := format.Source([]byte(out))
	if err != nil {
		return nil, fmt.Errorf("%v\n%s", err, out)
	}
	return res, nil
}

// InsertAfter returns dest with the declarations of src inserted after the
// declaration of type typ.
func InsertAfter(dest, src []byte, typ string) ([]byte, error) {
	fset := token.NewFileSet()
	sf, err := parser.ParseFile(fset, "", src, parser.ParseComments)
	if err != nil {
		return nil, err
	}
	var start token.Pos
	for _, d := range sf.Decls {
		if g, ok := d.(*ast.GenDecl); ok && g.Tok == token.IMPORT {
			continue
		}
		start = d.Pos()
		if g, ok := d.(*ast.GenDecl); ok && g.Doc != nil {
			start = g.Doc.Pos()
		}
		// Free-standing comments just before the first declaration (the
		// generator tags) belong to it.
		for _, cg := range sf.Comments {
			if cg.End() < start && fset.Position(cg.End()).Line >= fset.Position(start).Line-2 && cg.Pos() > lastImportEnd(sf) {
				start = cg.Pos()
				break
			}
		}
		break
	}
	if start == token.NoPos {
		return nil, fmt.Errorf("no declarations")
	}
	body := src[fset.Position(start).Offset:]

	dfset := token.NewFileSet()
	df, err := parser.ParseFile(dfset, "", dest, parser.ParseComments)
	if err != nil {
		return nil, err
	}
	for _, d := range df.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.TYPE {
			continue
		}
		for _, s := range g.Specs {
			if s.(*ast.TypeSpec).Name.Name == typ {
				at := dfset.Position(g.End()).Offset
				out := append([]byte{}, dest[:at]...)
				out = append(out, "\n\n"...)
				out = append(out, bytes.TrimSpace(body)...)
				out = append(out, dest[at:]...)
				return format.Source(out)
			}
		}
	}
	return nil, fmt.Errorf("type %s not found", typ)
}

func lastImportEnd(f *ast.File) token.Pos {
	end := f.Name.End()
	for _, d := range f.Decls {
		if g, ok := d.(*ast.GenDecl); ok && g.Tok == token.IMPORT {
			end = g.End()
		}
	}
	return end
}

func importPath(s *ast.ImportSpec) string {
	p, _ := strconv.Unquote(s.Path.Value)
	return p
}

func isOurs(p string) bool { return UpstreamPath(p) != p }

func defaultName(p string) string { return path.Base(p) }

// importBlock writes the imports as upstream groups them: the standard
// library, then everything else.
func importBlock(specs []importSpec) string {
	if len(specs) == 0 {
		return ""
	}
	var std, other []string
	for _, s := range specs {
		line := "\t"
		if s.name != "" {
			line += s.name + " "
		}
		line += strconv.Quote(s.path)
		if s.comment != "" {
			line += " // " + s.comment
		}
		if strings.Contains(strings.SplitN(s.path, "/", 2)[0], ".") {
			other = append(other, line)
		} else {
			std = append(std, line)
		}
	}
	byPath := func(l []string) {
		sort.Slice(l, func(i, j int) bool { return quoted(l[i]) < quoted(l[j]) })
	}
	byPath(std)
	byPath(other)
	var b strings.Builder
	b.WriteString("import (\n")
	b.WriteString(strings.Join(std, "\n"))
	if len(std) > 0 && len(other) > 0 {
		b.WriteString("\n\n")
	}
	b.WriteString(strings.Join(other, "\n"))
	b.WriteString("\n)\n")
	return b.String()
}

func quoted(line string) string {
	i := strings.Index(line, `"`)
	return line[i:]
}
