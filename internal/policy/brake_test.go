package policy

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

func TestBrakeDefaults(t *testing.T) {
	for _, name := range append([]string{""}, Presets()...) {
		s := Defaults()
		if name != "" {
			s = mustPreset(t, name)
		}
		if !s.DeprovisionBrake || s.DeprovisionBrakePercent != 10 || s.DeprovisionBrakeWindowMinutes != 10 || s.DeprovisionBrakeMin != 10 {
			t.Errorf("preset %q: brake settings %v %d %d %d; want on, 10 %%, 10 minutes, at least 10", name,
				s.DeprovisionBrake, s.DeprovisionBrakePercent, s.DeprovisionBrakeWindowMinutes, s.DeprovisionBrakeMin)
		}
	}
	// A policy stored before the brake existed gets it on.
	s, err := Parse([]byte(`{"seats": 3}`))
	if err != nil || !s.DeprovisionBrake || s.DeprovisionBrakeMin != 10 {
		t.Fatalf("old policy: %+v %v", s, err)
	}
}

func TestBrakeSettings(t *testing.T) {
	keys := strings.Join(Keys(), " ")
	for _, k := range []string{"deprovision_brake", "deprovision_brake_percent", "deprovision_brake_window_minutes", "deprovision_brake_min"} {
		if !strings.Contains(" "+keys+" ", " "+k+" ") {
			t.Errorf("Keys() lacks %s", k)
		}
	}
	s := Defaults()
	for _, kv := range [][2]string{{"deprovision_brake", "false"}, {"deprovision_brake_percent", "25"},
		{"deprovision_brake_window_minutes", "60"}, {"deprovision_brake_min", "3"}} {
		if err := s.Set(kv[0], kv[1]); err != nil {
			t.Fatalf("Set(%s): %v", kv[0], err)
		}
	}
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	if s.DeprovisionBrake || s.DeprovisionBrakePercent != 25 || s.DeprovisionBrakeWindowMinutes != 60 || s.DeprovisionBrakeMin != 3 {
		t.Fatalf("after Set: %+v", s)
	}
	back, err := Parse(s.Encode())
	if err != nil || back.DeprovisionBrake || back.DeprovisionBrakePercent != 25 || back.DeprovisionBrakeWindowMinutes != 60 || back.DeprovisionBrakeMin != 3 {
		t.Fatalf("round trip: %+v %v", back, err)
	}
	for _, tc := range []struct {
		key, value string
		ok         bool
	}{
		{"deprovision_brake_percent", "0", false}, {"deprovision_brake_percent", "1", true},
		{"deprovision_brake_percent", "100", true}, {"deprovision_brake_percent", "101", false},
		{"deprovision_brake_window_minutes", "0", false}, {"deprovision_brake_window_minutes", "1", true},
		{"deprovision_brake_window_minutes", "1440", true}, {"deprovision_brake_window_minutes", "1441", false},
		{"deprovision_brake_min", "0", false}, {"deprovision_brake_min", "1", true},
		{"deprovision_brake_min", "1000000", true}, {"deprovision_brake_min", "1000001", false},
		{"deprovision_brake_min", "-5", false},
	} {
		s := Defaults()
		if err := s.Set(tc.key, tc.value); err != nil {
			t.Fatalf("Set(%s, %s): %v", tc.key, tc.value, err)
		}
		err := s.Validate()
		if (err == nil) != tc.ok {
			t.Errorf("%s=%s: Validate = %v, want ok=%v", tc.key, tc.value, err, tc.ok)
		}
		if err != nil && !strings.Contains(err.Error(), tc.key) {
			t.Errorf("%s=%s: the error does not name the setting: %v", tc.key, tc.value, err)
		}
	}
	if err := s.Set("deprovision_brake", "sometimes"); err == nil {
		t.Error("deprovision_brake=sometimes accepted")
	}
}

func TestBrakeLimit(t *testing.T) {
	s := Defaults() // 10 %, at least 10
	for _, tc := range []struct{ active, want int }{
		{0, 10}, {1, 10}, {99, 10}, {100, 10}, {101, 11}, {109, 11}, {110, 11}, {111, 12}, {500, 50}, {1000000, 100000},
	} {
		if got := BrakeLimit(s, tc.active); got != tc.want {
			t.Errorf("BrakeLimit(10%%, min 10, %d active) = %d, want %d", tc.active, got, tc.want)
		}
	}
	s.DeprovisionBrakePercent, s.DeprovisionBrakeMin = 100, 1
	if got := BrakeLimit(s, 7); got != 7 {
		t.Errorf("100%% of 7 = %d", got)
	}
	if got := BrakeLimit(s, 0); got != 1 {
		t.Errorf("no active users, min 1: %d", got)
	}
	s.DeprovisionBrakePercent = 1
	if got := BrakeLimit(s, 150); got != 2 {
		t.Errorf("1%% of 150 rounds up to 2, got %d", got)
	}
	if BrakeWindow(Defaults()) != 10*time.Minute {
		t.Errorf("window %v", BrakeWindow(Defaults()))
	}
}

func TestCheckBrake(t *testing.T) {
	on := Defaults()
	off := with(Defaults(), func(s *Settings) { s.DeprovisionBrake = false })
	pause := &Pause{At: now.Add(-time.Hour), Count: 51, Limit: 50, ActiveUsers: 500, Percent: 10, WindowMinutes: 10}
	for _, tc := range []struct {
		name     string
		s        Settings
		f        BrakeFacts
		refused  bool
		trips    bool
		contains []string
	}{
		{"first change", on, BrakeFacts{Recent: 0, ActiveUsers: 500}, false, false, nil},
		{"up to the limit", on, BrakeFacts{Recent: 49, ActiveUsers: 500}, false, false, nil},
		{"one past the limit", on, BrakeFacts{Recent: 50, ActiveUsers: 500}, true, true,
			[]string{"51 of them within 10 minutes", "limit of 50", "10% of 500 active users", "`scimd tenant resume acme`"}},
		{"far past the limit", on, BrakeFacts{Recent: 400, ActiveUsers: 500}, true, true, []string{"401 of them"}},
		{"the floor holds a small tenant", on, BrakeFacts{Recent: 9, ActiveUsers: 20}, false, false, nil},
		{"the floor is the limit", on, BrakeFacts{Recent: 10, ActiveUsers: 20}, true, true,
			[]string{"limit of 10", "deprovision_brake_min", "10% of 20 active users is fewer"}},
		{"no active users left", on, BrakeFacts{Recent: 10, ActiveUsers: 0}, true, true, []string{"limit of 10"}},
		{"paused, window empty", on, BrakeFacts{Recent: 0, ActiveUsers: 500, Paused: pause}, true, false,
			[]string{"paused in this tenant since " + now.Add(-time.Hour).Format(time.RFC3339), "51 of them", "limit of 50"}},
		{"brake off", off, BrakeFacts{Recent: 5000, ActiveUsers: 10}, false, false, nil},
		{"brake off while paused", off, BrakeFacts{Recent: 0, ActiveUsers: 10, Paused: pause}, false, false, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.f.Now, tc.f.Tenant = now, "acme"
			v, trip := CheckBrake(tc.s, tc.f)
			if (v != nil) != tc.refused || (trip != nil) != tc.trips {
				t.Fatalf("CheckBrake = %v, trip %v; want refused=%v trips=%v", v, trip, tc.refused, tc.trips)
			}
			if v == nil {
				return
			}
			if v.Rule != RuleDeprovisioningPaused || v.Conflict {
				t.Fatalf("violation %+v", v)
			}
			for _, c := range tc.contains {
				if !strings.Contains(v.Detail, c) {
					t.Errorf("detail %q lacks %q", v.Detail, c)
				}
			}
			if trip != nil {
				if !trip.At.Equal(now) || trip.Count != tc.f.Recent+1 || trip.Limit != BrakeLimit(tc.s, tc.f.ActiveUsers) ||
					trip.ActiveUsers != tc.f.ActiveUsers || trip.Percent != 10 || trip.WindowMinutes != 10 {
					t.Errorf("trip %+v", trip)
				}
				// Every later refusal says the same as the one that tripped.
				again, _ := CheckBrake(tc.s, BrakeFacts{Now: now.Add(time.Hour), Tenant: "acme", Paused: trip})
				if again == nil || again.Detail != v.Detail {
					t.Errorf("while paused: %v, want %q", again, v.Detail)
				}
			}
		})
	}
	if d := pause.Detail(""); !strings.Contains(d, "scimd tenant resume TENANT") {
		t.Errorf("detail without a tenant name: %q", d)
	}
}

// TestBrakeProperty drives random sequences of destructive attempts,
// clock steps, resumes, active-user changes and settings through
// CheckBrake as the provision service uses it, and checks that within any
// window that holds no resume, the changes let through never exceed the
// limit in force at the last of them, that a tripped brake refuses
// everything until a resume, and that only a change over the limit trips.
func TestBrakeProperty(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 9))
	for run := 0; run < 200; run++ {
		s := Defaults()
		s.DeprovisionBrakePercent = 1 + r.IntN(30)
		s.DeprovisionBrakeWindowMinutes = 1 + r.IntN(15)
		s.DeprovisionBrakeMin = 1 + r.IntN(8)
		window := BrakeWindow(s)
		clock := now
		active := r.IntN(120)
		var committed []time.Time // since the last resume
		var paused *Pause
		trips := 0
		for step := 0; step < 400; step++ {
			switch op := r.IntN(20); {
			case op < 14:
				var recent int
				for _, at := range committed {
					if at.After(clock.Add(-window)) {
						recent++
					}
				}
				v, trip := CheckBrake(s, BrakeFacts{Now: clock, Tenant: "t", Recent: recent, ActiveUsers: active, Paused: paused})
				limit := BrakeLimit(s, active)
				switch {
				case v == nil:
					if paused != nil {
						t.Fatalf("run %d step %d: a change got through a paused brake", run, step)
					}
					if recent+1 > limit {
						t.Fatalf("run %d step %d: %d changes in the window let through, limit %d", run, step, recent+1, limit)
					}
					committed = append(committed, clock)
					if active > 0 && r.IntN(2) == 0 {
						active-- // a deactivation (else a deletion of an inactive user)
					}
				case trip != nil:
					if paused != nil || recent+1 <= limit {
						t.Fatalf("run %d step %d: tripped with %d recent, limit %d, paused %v", run, step, recent, limit, paused)
					}
					paused = trip
					trips++
				case paused == nil:
					t.Fatalf("run %d step %d: refused without tripping or a pause: %v", run, step, v)
				}
			case op < 17:
				clock = clock.Add(time.Duration(r.IntN(90)) * time.Second)
			case op < 18:
				active += r.IntN(10) // creates and reactivations
			default:
				if r.IntN(3) == 0 {
					paused, committed = nil, nil // scimd tenant resume
				}
			}
		}
		if run == 0 && trips == 0 {
			t.Fatal("the first run never tripped: the walk proves nothing")
		}
	}
}
