INSERT INTO bench_raw (body) VALUES (repeat('x', 1000));
