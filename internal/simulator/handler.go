package simulator

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Handler serves the simulator's metrics in the Prometheus text format, uncompressed: it is
// scraped over loopback, where gzip would only cost CPU.
func Handler(sim *Simulator) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(sim)
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		DisableCompression:  true,
		MaxRequestsInFlight: 2,
		ErrorHandling:       promhttp.HTTPErrorOnError,
	})
}
