"""The period close (月结, ST-01): close a month with a stock snapshot and a lock; what keeps a month from closing."""
