package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// FontsDir holds the fonts Indico's templates name (indico-fonts, the version Indico pins); each
// job's `fonts` link points here, as Indico's own link points at its copy.
const FontsDir = "/usr/share/indico-latex/fonts"

// XeLaTeX's own limits on the files a job opens (openin_any, openout_any: paranoid; no shell
// escape; no font or format generation), ahead of the distribution's texmf.cnf.
const TexmfCnf = "/etc/indico-latex/texmf"

const maxConsole = 1 << 20

// drainLimit bounds what is read, and dropped, of a request after its tar or its refusal.
const drainLimit = 1 << 20

type settings struct {
	socket      string
	jobsDir     string
	timeout     time.Duration
	maxBytes    int64
	concurrency int
}

func envInt(name string, fallback, low, high int) (int, error) {
	text := os.Getenv(name)
	if text == "" {
		return fallback, nil
	}
	value, err := strconv.Atoi(text)
	if err != nil || value < low || value > high {
		return 0, fmt.Errorf("%s must be a whole number from %d to %d, not %q", name, low, high, text)
	}
	return value, nil
}

func loadSettings() (settings, error) {
	s := settings{socket: os.Getenv("LATEX_SOCKET"), jobsDir: os.Getenv("LATEX_JOBS_DIR")}
	if s.socket == "" {
		s.socket = "/srv/indico-latex/latex.sock"
	}
	if s.jobsDir == "" {
		s.jobsDir = "/tmp/indico-latex"
	}
	timeout, err := envInt("LATEX_JOB_TIMEOUT", 120, 1, 3600)
	if err != nil {
		return s, err
	}
	megabytes, err := envInt("LATEX_MAX_JOB_MB", 64, 1, 4096)
	if err != nil {
		return s, err
	}
	s.concurrency, err = envInt("LATEX_CONCURRENCY", 2, 1, 64)
	s.timeout, s.maxBytes = time.Duration(timeout)*time.Second, int64(megabytes)<<20
	return s, err
}

func serve() error {
	s, err := loadSettings()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(s.jobsDir, 0o700); err != nil {
		return err
	}
	listener, err := listen(s.socket)
	if err != nil {
		return err
	}
	if err := restrictOwnNetwork(); err != nil {
		return err
	}
	log.Printf("serving XeLaTeX jobs on %s (timeout %s, %d at once, jobs up to %d MiB; sandbox: %s)",
		s.socket, s.timeout, s.concurrency, s.maxBytes>>20, sandboxSummary())
	return acceptJobs(listener, s)
}

// acceptJobs serves each connection in its own goroutine, at most s.concurrency jobs at once.
func acceptJobs(listener net.Listener, s settings) error {
	slots := make(chan struct{}, s.concurrency)
	for {
		conn, err := listener.Accept()
		if err != nil {
			return err
		}
		go func() {
			defer conn.Close()
			slots <- struct{}{}
			defer func() { <-slots }()
			handle(conn.(jobConn), s)
		}()
	}
}

// jobConn is a client's connection, over a Unix socket or loopback TCP: the answer ends with a
// half-close, so that the client reads to its end.
type jobConn interface {
	net.Conn
	CloseWrite() error
}

func handle(conn jobConn, s settings) {
	started := time.Now()
	// The whole exchange is bounded: reading the job, the run, and sending the answer.
	conn.SetDeadline(started.Add(s.timeout + 60*time.Second))
	reader := bufio.NewReader(conn)
	if _, err := reader.Peek(1); err == io.EOF {
		return // a health check: connected, sent nothing
	}
	req, err := readRequest(reader)
	if err != nil {
		reply(conn, answer{Exit: 1, Error: err.Error()}, "", nil)
		log.Printf("refused a job: %v", err)
		return
	}
	dir, err := os.MkdirTemp(s.jobsDir, "job-")
	if err != nil {
		reply(conn, answer{Exit: 1, Error: err.Error()}, "", nil)
		return
	}
	defer os.RemoveAll(dir)
	if err := unpack(io.LimitReader(reader, s.maxBytes+1<<20), dir, s.maxBytes); err != nil {
		reply(conn, answer{Exit: 1, Error: err.Error()}, "", nil)
		log.Printf("refused a job: %v", err)
		return
	}
	if _, err := os.Lstat(filepath.Join(dir, req.Main)); err != nil {
		reply(conn, answer{Exit: 1, Error: fmt.Sprintf("the job has no %s", req.Main)}, "", nil)
		return
	}
	os.Remove(filepath.Join(dir, "fonts"))
	if err := os.Symlink(FontsDir, filepath.Join(dir, "fonts")); err != nil {
		reply(conn, answer{Exit: 1, Error: err.Error()}, "", nil)
		return
	}
	before := snapshot(dir)
	result := run(dir, req.Main, s.timeout)
	written := changedFiles(dir, before)
	reply(conn, result, dir, written)
	log.Printf("job %s: exit %d, timed out %v, %d files back, %.1fs",
		req.Main, result.Exit, result.TimedOut, len(written), time.Since(started).Seconds())
	if result.Exit != 0 {
		for _, line := range failureLines(result.Console, 8) {
			log.Printf("job %s: %s", req.Main, line)
		}
	}
}

// failureLines picks from XeLaTeX's console what says why a job failed: TeX's errors ("! ...")
// and the last lines, where xdvipdfmx says what stopped it, for the operator reading the log.
func failureLines(console string, most int) []string {
	var errors, lines []string
	for _, line := range strings.Split(console, "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		if strings.HasPrefix(line, "!") && len(errors) < most {
			errors = append(errors, line)
		}
		lines = append(lines, line)
	}
	if len(lines) > most {
		lines = lines[len(lines)-most:]
	}
	return append(errors, lines...)
}

type fileState struct {
	size  int64
	mtime time.Time
}

func snapshot(dir string) map[string]fileState {
	states := map[string]fileState{}
	entries, _ := os.ReadDir(dir)
	for _, entry := range entries {
		if info, err := entry.Info(); err == nil && info.Mode().IsRegular() {
			states[entry.Name()] = fileState{info.Size(), info.ModTime()}
		}
	}
	return states
}

// changedFiles names the top-level files the run made or changed.
func changedFiles(dir string, before map[string]fileState) []string {
	var names []string
	for name, state := range snapshot(dir) {
		if old, ok := before[name]; !ok || old != state {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	return names
}

// run starts the sandbox (which becomes XeLaTeX) in its own process group, and kills the whole
// group at the time limit: XeLaTeX and the xdvipdfmx it starts.
func run(dir, main string, timeout time.Duration) answer {
	self, err := os.Executable()
	if err != nil {
		return answer{Exit: 1, Error: err.Error()}
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, self, "sandbox", "--dir", dir, "--cpu-seconds",
		strconv.Itoa(int(timeout.Seconds())+5), "--", "/usr/bin/xelatex",
		"-no-shell-escape", "-interaction", "nonstopmode", "-output-directory", dir, main)
	cmd.Dir = dir
	cmd.Env = []string{
		"PATH=/usr/bin:/bin", "HOME=" + dir, "LANG=C.UTF-8", "TEXMFCNF=" + TexmfCnf + ":",
		"TEXMFVAR=" + filepath.Join(dir, ".texmf-var"), "TEXMFOUTPUT=" + dir,
	}
	var console bytes.Buffer
	cmd.Stdout = &limitedBuffer{&console, maxConsole}
	cmd.Stderr = cmd.Stdout
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	err = cmd.Run()
	result := answer{Console: console.String()}
	if ctx.Err() == context.DeadlineExceeded {
		result.TimedOut, result.Exit = true, 124
		result.Error = fmt.Sprintf("the job ran longer than %s (LATEX_JOB_TIMEOUT) and was stopped", timeout)
		return result
	}
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		result.Exit = exitErr.ExitCode()
		if result.Exit < 0 {
			result.Exit = 128
		}
	} else if err != nil {
		result.Exit, result.Error = 1, err.Error()
	}
	// Whatever the run left in its process group (nothing, normally) goes with it.
	syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	return result
}

type limitedBuffer struct {
	buf   *bytes.Buffer
	limit int
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if room := l.limit - l.buf.Len(); room > 0 {
		if len(p) > room {
			l.buf.Write(p[:room])
		} else {
			l.buf.Write(p)
		}
	}
	return len(p), nil
}

func reply(conn jobConn, result answer, dir string, names []string) {
	// Read what the client sent past the tar's end (Python's tarfile pads to 10 KiB) up to its
	// EOF: a socket closed with unread data resets the connection, and the client would lose the
	// answer (seen in CI under load).
	io.Copy(io.Discard, io.LimitReader(conn, drainLimit))
	header, _ := json.Marshal(result)
	if _, err := conn.Write(append(header, '\n')); err != nil {
		return
	}
	if dir != "" {
		if err := packFiles(conn, dir, names); err != nil {
			log.Printf("sending the answer: %v", err)
		}
	}
	conn.CloseWrite()
}

func check() error {
	s, err := loadSettings()
	if err != nil {
		return err
	}
	network, err := socketNetwork(s.socket)
	if err != nil {
		return err
	}
	conn, err := net.DialTimeout(network, s.socket, 2*time.Second)
	if err != nil {
		return err
	}
	return conn.Close()
}

// socketNetwork says how LATEX_SOCKET is reached: a path is a Unix socket (a volume both
// containers mount), host:port is TCP on a loopback address (the pod's containers share one
// network namespace, and Juju shares no directory between them). The worker asks for no
// credentials, so any other address is refused rather than opened to the cluster.
func socketNetwork(address string) (string, error) {
	if strings.HasPrefix(address, "/") {
		return "unix", nil
	}
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return "", fmt.Errorf("LATEX_SOCKET=%q is neither a socket path nor host:port: %v", address, err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return "", fmt.Errorf("LATEX_SOCKET=%q: the worker takes jobs from anyone who reaches it, so it "+
			"listens only on a Unix socket path or a loopback address (127.0.0.1:PORT or [::1]:PORT)", address)
	}
	return "tcp", nil
}

func listen(address string) (net.Listener, error) {
	network, err := socketNetwork(address)
	if err != nil {
		return nil, err
	}
	if network == "tcp" {
		return net.Listen(network, address)
	}
	if err := os.MkdirAll(filepath.Dir(address), 0o770); err != nil {
		return nil, err
	}
	// A socket left by a worker that was killed would refuse the bind.
	if info, err := os.Lstat(address); err == nil && info.Mode()&os.ModeSocket != 0 {
		os.Remove(address)
	}
	listener, err := net.Listen(network, address)
	if err != nil {
		return nil, err
	}
	// The indico container's client runs as the same user (_daemon_); nothing else may send jobs.
	if err := os.Chmod(address, 0o660); err != nil {
		listener.Close()
		return nil, err
	}
	return listener, nil
}
