// Command demobackend is a tiny HTTP origin server for demos and tests: it
// answers every request with its own name and a summary of what it received,
// and serves /haproxy.txt so that the seed configuration's health checks
// (`option httpchk HEAD /haproxy.txt`) pass.
//
//	demobackend -listen 127.0.0.1:8080 -name web80
package main

import (
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"sort"
	"strings"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:8080", "address to listen on")
	name := flag.String("name", "", "name to answer with (default: the listen address)")
	flag.Parse()
	if *name == "" {
		*name = *listen
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/haproxy.txt", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Backend", *name)
		fmt.Fprintf(w, "backend=%s\nmethod=%s\nuri=%s\nhost=%s\nremote=%s\n",
			*name, r.Method, r.RequestURI, r.Host, r.RemoteAddr)
		keys := make([]string, 0, len(r.Header))
		for k := range r.Header {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(w, "header %s: %s\n", k, strings.Join(r.Header[k], ", "))
		}
	})
	log.SetPrefix("demobackend " + *name + ": ")
	if err := http.ListenAndServe(*listen, mux); err != nil {
		log.Print(err)
		os.Exit(1)
	}
}
