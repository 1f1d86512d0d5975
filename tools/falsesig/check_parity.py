#!/usr/bin/python3
"""Checks that the C tree walk (bench_falsesig --model) gives sklearn's probabilities: trains a
small model on the dumped features of the first 3 recordings, exports it with train.export,
scores the same recordings through the C engine and prints the largest difference.
Usage (after falsesig_dump into FEAT/mhr): PYTHONPATH=tools/falsesig check_parity.py FEAT DATA BUILD
"""
import numpy as np, sys, json, os
FEAT, D0, BUILD = sys.argv[1], sys.argv[2], sys.argv[3]
import train
from sklearn.ensemble import HistGradientBoostingClassifier
names=open(FEAT + '/mhr/features_mhr.txt').read().split()
dt=np.dtype([('i','<u4'),('f','<f4',(len(names),))])
D = D0.rstrip('/') + '/'
anns=[json.loads(l) for l in open(D+'annotations.jsonl')][:3]
X=[];Y=[]
for a in anns:
    d=np.fromfile(FEAT + '/mhr/'+a['filename']+'.feat',dtype=dt)
    f1=train.read_fhr1(D+'DopMHR/Train/'+a['filename']); y=train.truth(a,len(f1),f1)[d['i']]
    k=y>=0; X.append(d['f'][k]); Y.append((y[k]==0).astype(int))
X=np.concatenate(X); Y=np.concatenate(Y)
clf=HistGradientBoostingClassifier(max_iter=30,max_leaf_nodes=15).fit(X.astype(np.float64),Y)
train.export(clf,'/tmp/tiny_mhr.txt',1,80,names)
maxd=0
os.makedirs('/tmp/tinyp',exist_ok=True)
os.system('%s/bench/bench_falsesig --data %s --model /tmp/tiny_mhr.txt --limit 3 --probs /tmp/tinyp > /dev/null' % (BUILD, D))
for a in anns:
    d=np.fromfile(FEAT + '/mhr/'+a['filename']+'.feat',dtype=dt)
    ps=clf.predict_proba(d['f'].astype(np.float64))[:,1]
    pc=np.fromfile('/tmp/tinyp/'+a['filename']+'.p',dtype=np.float32)[d['i']]
    maxd=max(maxd,np.abs(ps-pc).max())
print('max |p_sklearn - p_C| =',maxd, 'rows', len(ps))
