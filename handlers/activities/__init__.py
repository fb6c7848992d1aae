"""Programme activities: sessions and presensi, izin/sakit, tugas, laporan bulanan."""
