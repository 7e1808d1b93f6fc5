package balance

import (
	"hash/crc32"
	"unsafe"
)

// hashFunc is one of HAProxy's hash functions (hash-type ... <function>).
// It takes a string so that hashing a request's fields never copies them.
type hashFunc func(s string) uint32

// sdbm is HAProxy's default hash function (hash_sdbm).
func sdbm(s string) uint32 {
	var h uint32
	for i := 0; i < len(s); i++ {
		h = uint32(s[i]) + (h << 6) + (h << 16) - h
	}
	return h
}

// djb2 is Bernstein's hash (hash_djb2): h = h*33 + c from 5381.
func djb2(s string) uint32 {
	h := uint32(5381)
	for i := 0; i < len(s); i++ {
		h = h<<5 + h + uint32(s[i])
	}
	return h
}

// wt6 is Willy Tarreau's 6-step hash (hash_wt6), designed for HTTP headers.
func wt6(s string) uint32 {
	h0, h1 := uint32(0xa53c965a), uint32(0x5ca6953a)
	step0, step1 := uint32(6), uint32(18)
	for i := 0; i < len(s); i++ {
		t := uint32(s[i])
		h0 = ^(h0 ^ t)
		h1 = ^(h1 + t)
		// Go shifts by 32 give 0, which is what x86 gives for the C code
		// when a step is 0 (the count is masked and the two halves OR to
		// the same value).
		t = h1<<step0 | h1>>(32-step0)
		h1 = h0<<step1 | h0>>(32-step1)
		h0 = t
		t = (h0>>16 ^ h1) & 0xffff
		step0 = t & 0x1f
		step1 = t >> 11
	}
	return h0 ^ h1
}

// crc32IEEE is HAProxy's hash_crc32: the IEEE CRC-32.
func crc32IEEE(s string) uint32 {
	return crc32.ChecksumIEEE(unsafe.Slice(unsafe.StringData(s), len(s)))
}

// fullHash is Bob Jenkins' full avalanche integer hash, multiplied by a
// large prime, as HAProxy's full_hash(): it places consistent-hashing nodes
// and implements `hash-type ... avalanche`.
func fullHash(a uint32) uint32 {
	a = (a + 0x7ed55d16) + (a << 12)
	a = (a ^ 0xc761c23c) ^ (a >> 19)
	a = (a + 0x165667b1) + (a << 5)
	a = (a + 0xd3a2646c) ^ (a << 9)
	a = (a + 0xfd7046c5) + (a << 3)
	a = (a ^ 0xb55a4f09) ^ (a >> 16)
	return a * 3221225473
}

// hashFunctions maps the names `hash-type` accepts to the functions.
// "none" (use the key as the hash) only makes sense for `balance hash`
// with an integer expression, which goproxy does not support: sdbm.
var hashFunctions = map[string]hashFunc{
	"": sdbm, "sdbm": sdbm, "djb2": djb2, "wt6": wt6, "crc32": crc32IEEE, "none": sdbm,
}

// HashFunc returns HAProxy's hash function called name (sdbm, djb2, wt6,
// crc32; "" is sdbm), for the converters of the same names.
func HashFunc(name string) (func(string) uint32, bool) {
	f, ok := hashFunctions[name]
	return f, ok
}

// FullHash is HAProxy's full_hash() avalanche of a 32-bit hash, for the
// converters' optional avalanche argument.
func FullHash(h uint32) uint32 { return fullHash(h) }
