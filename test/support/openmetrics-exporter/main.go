// A Prometheus exporter built on the Go client library (client_golang) with OpenMetrics
// switched on: a counter and a histogram with exemplars and created timestamps, a gauge, a
// summary, a gauge vector with escaped label values, plus the library's own Go and process
// collectors. It serves on the address given and exits on SIGTERM.
//
//	GOPATH=/usr/share/gocode GO111MODULE=off go build -o om-exporter main.go
package main

import (
	"flag"
	"log"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

func main() {
	addr := flag.String("listen", "127.0.0.1:0", "address to serve /metrics on")
	flag.Parse()

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	requests := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "demo_requests_total", Help: "Requests served.",
	}, []string{"code"})
	latency := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "demo_latency_seconds", Help: "Request latency.", Buckets: []float64{0.05, 0.1, 0.5},
	}, []string{"route"})
	temperature := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "demo_temperature_celsius", Help: "A \"quoted\" help\nover two lines.",
	}, []string{"room"})
	sizes := prometheus.NewSummary(prometheus.SummaryOpts{
		Name: "demo_response_size_bytes", Help: "Response sizes.", Objectives: map[float64]float64{0.5: 0.05, 0.9: 0.01},
	})
	reg.MustRegister(requests, latency, temperature, sizes)

	requests.WithLabelValues("200").(prometheus.ExemplarAdder).AddWithExemplar(1027, prometheus.Labels{"trace_id": "4bf92f3577b34da6a3ce929d0e0e4736"})
	requests.WithLabelValues("500").Add(3)
	for _, v := range []float64{0.01, 0.07, 0.07, 0.3, 2} {
		latency.WithLabelValues("/api").(prometheus.ExemplarObserver).ObserveWithExemplar(v, prometheus.Labels{"trace_id": "00f067aa0ba902b7"})
	}
	temperature.WithLabelValues(`a "quoted" \ room`).Set(21.5)
	temperature.WithLabelValues("line\nfeed").Set(-3)
	for _, v := range []float64{100, 200, 300, 400, 500} {
		sizes.Observe(v)
	}

	http.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{EnableOpenMetrics: true}))
	log.Fatal(http.ListenAndServe(*addr, nil))
}
