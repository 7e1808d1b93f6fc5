package acl

import (
	"crypto/md5"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"hash"
	"strconv"
	"strings"
)

// The crypt(3) forms userlist passwords use, implemented from their
// published specifications (Ulrich Drepper's "Unix crypt using SHA-256 and
// SHA-512", and Poul-Henning Kamp's MD5-based crypt), so that goproxy needs
// neither cgo nor libcrypt.

const cryptB64 = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// b64From24 appends n characters encoding the 24-bit value b2 b1 b0,
// least significant 6 bits first.
func b64From24(out []byte, b2, b1, b0 byte, n int) []byte {
	w := uint(b2)<<16 | uint(b1)<<8 | uint(b0)
	for ; n > 0; n-- {
		out = append(out, cryptB64[w&0x3f])
		w >>= 6
	}
	return out
}

// cryptVerify reports whether password hashes to hashed, a crypt(3)
// string. ok is false when the hash form is not supported.
func cryptVerify(password, hashed string) (match, ok bool) {
	var got string
	switch {
	case strings.HasPrefix(hashed, "$6$"):
		got, ok = shaCrypt(password, hashed, false)
	case strings.HasPrefix(hashed, "$5$"):
		got, ok = shaCrypt(password, hashed, true)
	case strings.HasPrefix(hashed, "$1$"):
		got, ok = md5Crypt(password, hashed)
	}
	if !ok {
		return false, false
	}
	return subtle.ConstantTimeCompare([]byte(got), []byte(hashed)) == 1, true
}

// cryptSupported reports whether cryptVerify understands hashed.
func cryptSupported(hashed string) bool {
	return strings.HasPrefix(hashed, "$6$") || strings.HasPrefix(hashed, "$5$") || strings.HasPrefix(hashed, "$1$")
}

// shaCrypt computes SHA-512 ($6$) or SHA-256 ($5$) crypt of password with
// the salt and rounds found in setting ("$6$[rounds=N$]salt[$hash]").
func shaCrypt(password, setting string, is256 bool) (string, bool) {
	prefix := "$6$"
	newHash := sha512.New
	if is256 {
		prefix, newHash = "$5$", sha256.New
	}
	rest := setting[len(prefix):]
	rounds, custom := 5000, false
	if r, ok := strings.CutPrefix(rest, "rounds="); ok {
		i := strings.IndexByte(r, '$')
		if i < 0 {
			return "", false
		}
		n, err := strconv.ParseUint(r[:i], 10, 32)
		if err != nil {
			return "", false
		}
		rounds = int(min(max(n, 1000), 999999999))
		custom = true
		rest = r[i+1:]
	}
	salt := rest
	if i := strings.IndexByte(salt, '$'); i >= 0 {
		salt = salt[:i]
	}
	if len(salt) > 16 {
		salt = salt[:16]
	}
	p, s := []byte(password), []byte(salt)
	h := newHash()
	size := h.Size()

	// Digest B: password, salt, password.
	h.Write(p)
	h.Write(s)
	h.Write(p)
	b := h.Sum(nil)

	// Digest A.
	h.Reset()
	h.Write(p)
	h.Write(s)
	writeRepeated(h, b, len(p))
	for n := len(p); n > 0; n >>= 1 {
		if n&1 != 0 {
			h.Write(b)
		} else {
			h.Write(p)
		}
	}
	a := h.Sum(nil)

	// P sequence: the digest of the password repeated len(p) times.
	h.Reset()
	for range len(p) {
		h.Write(p)
	}
	dp := h.Sum(nil)
	pseq := repeatTo(dp, len(p))

	// S sequence: the digest of the salt repeated 16+a[0] times.
	h.Reset()
	for range 16 + int(a[0]) {
		h.Write(s)
	}
	ds := h.Sum(nil)
	sseq := repeatTo(ds, len(s))

	c := a
	for i := range rounds {
		h.Reset()
		if i&1 != 0 {
			h.Write(pseq)
		} else {
			h.Write(c)
		}
		if i%3 != 0 {
			h.Write(sseq)
		}
		if i%7 != 0 {
			h.Write(pseq)
		}
		if i&1 != 0 {
			h.Write(c)
		} else {
			h.Write(pseq)
		}
		c = h.Sum(c[:0])
	}

	out := []byte(prefix)
	if custom {
		out = append(out, "rounds="+strconv.Itoa(rounds)+"$"...)
	}
	out = append(out, salt...)
	out = append(out, '$')
	if size == 64 {
		for i := range 21 {
			// Groups (0,21,42), (22,43,1), (44,2,23), ...
			x, y, z := i, i+21, i+42
			switch i % 3 {
			case 1:
				x, y, z = i+21, i+42, i
			case 2:
				x, y, z = i+42, i, i+21
			}
			out = b64From24(out, c[x], c[y], c[z], 4)
		}
		out = b64From24(out, 0, 0, c[63], 2)
	} else {
		for i := range 10 {
			x, y, z := i, i+10, i+20
			switch i % 3 {
			case 1:
				x, y, z = i+20, i, i+10
			case 2:
				x, y, z = i+10, i+20, i
			}
			out = b64From24(out, c[x], c[y], c[z], 4)
		}
		out = b64From24(out, 0, c[31], c[30], 3)
	}
	return string(out), true
}

// writeRepeated writes n bytes of the cyclic repetition of b.
func writeRepeated(h hash.Hash, b []byte, n int) {
	for ; n > len(b); n -= len(b) {
		h.Write(b)
	}
	h.Write(b[:n])
}

func repeatTo(b []byte, n int) []byte {
	out := make([]byte, 0, n)
	for len(out) < n {
		out = append(out, b[:min(len(b), n-len(out))]...)
	}
	return out
}

// md5Crypt computes the MD5-based crypt ($1$) of password with the salt of
// setting ("$1$salt[$hash]").
func md5Crypt(password, setting string) (string, bool) {
	salt := setting[3:]
	if i := strings.IndexByte(salt, '$'); i >= 0 {
		salt = salt[:i]
	}
	if len(salt) > 8 {
		salt = salt[:8]
	}
	p, s := []byte(password), []byte(salt)
	alt := md5.New()
	alt.Write(p)
	alt.Write(s)
	alt.Write(p)
	altSum := alt.Sum(nil)

	h := md5.New()
	h.Write(p)
	h.Write([]byte("$1$"))
	h.Write(s)
	writeRepeated(h, altSum, len(p))
	for n := len(p); n > 0; n >>= 1 {
		if n&1 != 0 {
			h.Write([]byte{0})
		} else {
			h.Write(p[:1])
		}
	}
	f := h.Sum(nil)
	for i := range 1000 {
		h.Reset()
		if i&1 != 0 {
			h.Write(p)
		} else {
			h.Write(f)
		}
		if i%3 != 0 {
			h.Write(s)
		}
		if i%7 != 0 {
			h.Write(p)
		}
		if i&1 != 0 {
			h.Write(f)
		} else {
			h.Write(p)
		}
		f = h.Sum(f[:0])
	}
	out := []byte("$1$" + salt + "$")
	out = b64From24(out, f[0], f[6], f[12], 4)
	out = b64From24(out, f[1], f[7], f[13], 4)
	out = b64From24(out, f[2], f[8], f[14], 4)
	out = b64From24(out, f[3], f[9], f[15], 4)
	out = b64From24(out, f[4], f[10], f[5], 4)
	out = b64From24(out, 0, 0, f[11], 2)
	return string(out), true
}
