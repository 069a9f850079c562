package dashboard

import "time"

// SetCacheTimes sets the response cache's time to live and how long a
// response is kept computed after its last reader: seconds, for tests.
func SetCacheTimes(s *Server, ttl, keepWarm time.Duration) {
	s.cache.mu.Lock()
	defer s.cache.mu.Unlock()
	s.cache.ttl, s.cache.keepWarm = ttl, keepWarm
}
