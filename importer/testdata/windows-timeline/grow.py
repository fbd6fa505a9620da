# grow.py N OUT: a synthetic Windows Timeline database for measuring the importer (BENCHMARKS §8):
# the fixture beside this script, with its type-6 ("in use") rows copied over and over, with new Ids
# and start times a minute apart, spread over its 33 activities, to N sessions in all.
import shutil, sqlite3, sys, os, random
n = int(sys.argv[1]); out = sys.argv[2]
if os.path.exists(out): os.remove(out)
shutil.copy(os.path.join(os.path.dirname(os.path.abspath(__file__)), 'ActivitiesCache.db'), out)
db = sqlite3.connect(out)
cols = [r[1] for r in db.execute("PRAGMA table_info(Activity)")]
six = db.execute("SELECT * FROM Activity WHERE ActivityType = 6").fetchall()
fives = db.execute("SELECT * FROM Activity WHERE ActivityType = 5").fetchall()
iid, ist, ien, ilm = cols.index('Id'), cols.index('StartTime'), cols.index('EndTime'), cols.index('LastModifiedTime')
iapp, iaid = cols.index('AppId'), cols.index('AppActivityId')
rnd = random.Random(1)
rows = []
for i in range(n):
    base = list(six[i % len(six)])
    f = fives[i % len(fives)]   # spread the sessions over every activity
    base[iapp], base[iaid] = f[iapp], f[iaid]
    base[iid] = rnd.randbytes(16)
    start = 1500000000 + i * 60
    base[ist], base[ien], base[ilm] = start, start + 50, start + 50
    rows.append(base)
    if len(rows) == 10000:
        db.executemany("INSERT INTO Activity VALUES (%s)" % ",".join("?" * len(cols)), rows); rows = []
if rows: db.executemany("INSERT INTO Activity VALUES (%s)" % ",".join("?" * len(cols)), rows)
db.commit(); db.close()
print(out, os.path.getsize(out) // 1000000, "MB")
