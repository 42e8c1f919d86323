package cli

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"time"
)

// rawConn is bench-api's lean HTTP/1.1 client: one keep-alive connection,
// the request written as prepared bytes, the answer read by its
// Content-Length (or its chunks). The load generator shares the machine's
// cores with the server it measures; this client costs it a fraction of
// net/http's client CPU, which is left to the server (--client go uses
// net/http instead).
type rawConn struct {
	addr, host, auth string
	timeout          time.Duration
	c                net.Conn
	r                *bufio.Reader
	w                []byte
	body             []byte
}

func newRawConn(base, auth string, timeout time.Duration) (*rawConn, error) {
	u, err := url.Parse(base)
	if err != nil || u.Scheme != "http" {
		return nil, fmt.Errorf("--client raw needs an http:// URL, not %q", base)
	}
	addr := u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), "80")
	}
	return &rawConn{addr: addr, host: u.Host, auth: auth, timeout: timeout}, nil
}

// get sends GET path and reads the answer to its end; it keeps at most 4
// KiB of a non-2xx body, for the error message.
func (rc *rawConn) get(path string) (int, []byte, error) {
	status, body, err := rc.try(path)
	if err != nil && rc.c != nil {
		_ = rc.c.Close()
		rc.c = nil
	}
	return status, body, err
}

func (rc *rawConn) try(path string) (int, []byte, error) {
	if rc.c == nil {
		c, err := net.DialTimeout("tcp", rc.addr, rc.timeout)
		if err != nil {
			return 0, nil, err
		}
		rc.c, rc.r = c, bufio.NewReaderSize(c, 16<<10)
	}
	if err := rc.c.SetDeadline(time.Now().Add(rc.timeout)); err != nil {
		return 0, nil, err
	}
	w := rc.w[:0]
	w = append(w, "GET "...)
	w = append(w, path...)
	w = append(w, " HTTP/1.1\r\nHost: "...)
	w = append(w, rc.host...)
	if rc.auth != "" {
		w = append(w, "\r\nAuthorization: "...)
		w = append(w, rc.auth...)
	}
	w = append(w, "\r\n\r\n"...)
	rc.w = w
	if _, err := rc.c.Write(w); err != nil {
		return 0, nil, err
	}
	line, err := rc.r.ReadSlice('\n')
	if err != nil {
		return 0, nil, err
	}
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) {
		return 0, nil, fmt.Errorf("not an HTTP answer: %q", line)
	}
	status, err := strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, nil, fmt.Errorf("status line %q", line)
	}
	length, chunked, closing := -1, false, false
	for {
		h, err := rc.r.ReadSlice('\n')
		if err != nil {
			return 0, nil, err
		}
		h = bytes.TrimRight(h, "\r\n")
		if len(h) == 0 {
			break
		}
		k, v, ok := bytes.Cut(h, []byte(":"))
		if !ok {
			continue
		}
		v = bytes.TrimSpace(v)
		switch {
		case bytes.EqualFold(k, []byte("Content-Length")):
			if length, err = strconv.Atoi(string(v)); err != nil {
				return 0, nil, fmt.Errorf("Content-Length %q", v)
			}
		case bytes.EqualFold(k, []byte("Transfer-Encoding")):
			chunked = bytes.EqualFold(v, []byte("chunked"))
		case bytes.EqualFold(k, []byte("Connection")):
			closing = bytes.EqualFold(v, []byte("close"))
		}
	}
	rc.body = rc.body[:0]
	switch {
	case chunked:
		for {
			sz, err := rc.r.ReadSlice('\n')
			if err != nil {
				return 0, nil, err
			}
			sz, _, _ = bytes.Cut(bytes.TrimRight(sz, "\r\n"), []byte(";"))
			n, err := strconv.ParseInt(string(sz), 16, 64)
			if err != nil {
				return 0, nil, fmt.Errorf("chunk size %q", sz)
			}
			if err := rc.readBody(int(n) + 2); err != nil { // the chunk and its CRLF
				return 0, nil, err
			}
			if n == 0 {
				break
			}
		}
	case length >= 0:
		if err := rc.readBody(length); err != nil {
			return 0, nil, err
		}
	default:
		return 0, nil, errors.New("an answer without Content-Length or chunks")
	}
	if closing {
		_ = rc.c.Close()
		rc.c = nil
	}
	var body []byte
	if status/100 != 2 {
		body = append([]byte(nil), rc.body[:min(len(rc.body), 4<<10)]...)
	}
	return status, body, nil
}

func (rc *rawConn) readBody(n int) error {
	start := len(rc.body)
	if cap(rc.body) < start+n {
		nb := make([]byte, start, start+n+4096)
		copy(nb, rc.body)
		rc.body = nb
	}
	rc.body = rc.body[:start+n]
	_, err := io.ReadFull(rc.r, rc.body[start:])
	return err
}

func (rc *rawConn) close() {
	if rc.c != nil {
		_ = rc.c.Close()
	}
}
