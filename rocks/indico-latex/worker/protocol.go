package main

// The job's wire format, both ways: one line of JSON, then a tar stream (plain files only).
//
//	client -> worker: {"main": "book_of_abstracts.tex"}\n <tar of the source directory> (then EOF)
//	worker -> client: {"exit": 0, "timed_out": false, "console": "...", "error": ""}\n <tar of the files the run wrote>

import (
	"archive/tar"
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

type request struct {
	Main string `json:"main"`
}

type answer struct {
	Exit     int    `json:"exit"`
	TimedOut bool   `json:"timed_out"`
	Console  string `json:"console"`
	Error    string `json:"error,omitempty"`
}

var mainName = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,100}\.tex$`)

const maxHeader = 4096
const maxFiles = 2000

func readRequest(r *bufio.Reader) (request, error) {
	var req request
	line, err := readLine(r)
	if err != nil {
		return req, err
	}
	if err := json.Unmarshal(line, &req); err != nil {
		return req, fmt.Errorf("the job's header is not JSON: %w", err)
	}
	if !mainName.MatchString(req.Main) {
		return req, fmt.Errorf("the job's main file %q is not a plain .tex name", req.Main)
	}
	return req, nil
}

func readLine(r *bufio.Reader) ([]byte, error) {
	var line []byte
	for {
		part, more, err := r.ReadLine()
		if err != nil {
			return nil, fmt.Errorf("reading the header: %w", err)
		}
		line = append(line, part...)
		if len(line) > maxHeader {
			return nil, errors.New("the header is longer than 4 KiB")
		}
		if !more {
			return line, nil
		}
	}
}

// safeName cleans a tar entry's name; it refuses absolute names and names that leave the directory.
func safeName(name string) (string, error) {
	clean := filepath.Clean(name)
	if filepath.IsAbs(name) || clean == ".." || strings.HasPrefix(clean, "../") || strings.Contains(name, "\x00") {
		return "", fmt.Errorf("%q leaves the job directory", name)
	}
	return clean, nil
}

// unpack writes the job's files into dir: plain files and directories only, at most limit bytes.
func unpack(r io.Reader, dir string, limit int64) error {
	tr := tar.NewReader(r)
	var total int64
	for files := 0; ; files++ {
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading the job: %w", err)
		}
		if files >= maxFiles {
			return fmt.Errorf("the job has more than %d files", maxFiles)
		}
		name, err := safeName(hdr.Name)
		if err != nil {
			return err
		}
		if name == "." {
			continue
		}
		target := filepath.Join(dir, name)
		switch hdr.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, 0o700); err != nil {
				return err
			}
		case tar.TypeReg:
			total += hdr.Size
			if total > limit {
				return fmt.Errorf("the job is larger than %d MiB (LATEX_MAX_JOB_MB)", limit>>20)
			}
			if err := os.MkdirAll(filepath.Dir(target), 0o700); err != nil {
				return err
			}
			f, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
			if err != nil {
				return err
			}
			_, err = io.Copy(f, io.LimitReader(tr, hdr.Size))
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
		default:
			return fmt.Errorf("%q is not a plain file or directory (links are not taken)", hdr.Name)
		}
	}
}

// packFiles writes the named files of dir (top level) as a tar stream.
func packFiles(w io.Writer, dir string, names []string) error {
	tw := tar.NewWriter(w)
	for _, name := range names {
		path := filepath.Join(dir, name)
		info, err := os.Lstat(path)
		if err != nil || !info.Mode().IsRegular() {
			continue
		}
		hdr := &tar.Header{Name: name, Mode: 0o644, Size: info.Size(), ModTime: info.ModTime(), Typeflag: tar.TypeReg}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		_, err = io.Copy(tw, io.LimitReader(f, info.Size()))
		f.Close()
		if err != nil {
			return err
		}
	}
	return tw.Close()
}
