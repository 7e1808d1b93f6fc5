package track

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// readTrackFile returns the integer a track_file holds, read as
// keepalived reads it (leading blanks, an optional sign, decimal digits;
// anything after them ignored). A missing, empty or non-numeric file
// reads as 0.
func readTrackFile(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	return parseLeadingInt(string(b))
}

func parseLeadingInt(s string) int {
	i := 0
	for i < len(s) && strings.IndexByte(" \t\n\v\f\r", s[i]) >= 0 { // C isspace
		i++
	}
	j := i
	if j < len(s) && (s[j] == '-' || s[j] == '+') {
		j++
	}
	k := j
	for k < len(s) && s[k] >= '0' && s[k] <= '9' {
		k++
	}
	if k == j {
		return 0
	}
	v, err := strconv.ParseInt(s[i:k], 10, 64)
	if err != nil { // out of range: keepalived's strtol saturates
		if s[i] == '-' {
			return -1 << 31
		}
		return 1<<31 - 1
	}
	if v > 1<<31-1 {
		return 1<<31 - 1
	}
	if v < -1<<31 {
		return -1 << 31
	}
	return int(v)
}

// initFile applies init_file: write the value when the file is missing,
// or always with overwrite. Errors are ignored like keepalived's (the
// file then reads as 0).
func initFile(f File) {
	if f.Init == nil {
		return
	}
	if _, err := os.Stat(f.Path); err == nil && !f.InitOverwrite {
		return
	}
	os.WriteFile(f.Path, []byte(strconv.Itoa(*f.Init)+"\n"), 0o644)
}

// watchFiles reports each change of a track file's value: on inotify
// events in the files' directories (as keepalived does) and, as a safety
// net, every FilePoll.
func (r *Runner) watchFiles(ctx context.Context, report func(name string, v int)) {
	last := map[string]int{}
	for _, f := range r.cfg.Files {
		last[f.Name] = readTrackFile(f.Path)
	}
	check := func() {
		for _, f := range r.cfg.Files {
			v := readTrackFile(f.Path)
			if v != last[f.Name] {
				last[f.Name] = v
				r.logf("Track file %s changed value to %d", f.Name, v)
				report(f.Name, v)
			}
		}
	}
	kick := make(chan struct{}, 1)
	if fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK); err == nil {
		dirs := map[string]bool{}
		for _, f := range r.cfg.Files {
			d := filepath.Dir(f.Path)
			if !dirs[d] {
				dirs[d] = true
				unix.InotifyAddWatch(fd, d, unix.IN_CLOSE_WRITE|unix.IN_MOVED_TO|unix.IN_DELETE|unix.IN_CREATE|unix.IN_MODIFY)
			}
		}
		done := make(chan struct{})
		defer func() { unix.Close(fd); <-done }()
		go func() {
			defer close(done)
			buf := make([]byte, 4096)
			pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
			for ctx.Err() == nil {
				n, err := unix.Poll(pfd, 200)
				if err != nil && err != unix.EINTR {
					return
				}
				if n <= 0 {
					continue
				}
				if _, err := unix.Read(fd, buf); err != nil && err != unix.EAGAIN {
					return
				}
				select {
				case kick <- struct{}{}:
				default:
				}
			}
		}()
	}
	poll := r.FilePoll
	if poll <= 0 {
		poll = time.Second
	}
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-kick:
			check()
		case <-t.C:
			check()
		}
	}
}
