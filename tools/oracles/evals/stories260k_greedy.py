"""Greedy token ids of stories260K from BOS, by a plain-Python Llama forward (test oracle).

Written apart from the TypeScript test model (libs/evals/test/support/llama2c.ts), straight from
the llama2.c file layout; standard library only. Run from the repository root:
  python3 tools/oracles/evals/stories260k_greedy.py
It prints the first 12 greedy ids after BOS, used as the golden value in llama2c.test.ts.
"""
import math
import struct

b=open('../shared/models/stories260k/stories260K.bin','rb').read()
D,H,L,NH,NKV,V,T=struct.unpack('7i',b[:28]); hs=D//NH; kv=hs*NKV
f=struct.unpack(f'{(len(b)-28)//4}f', b[28:]); at=0
def take(n):
    global at; a=f[at:at+n]; at+=n; return a
emb=take(V*D); an=take(L*D); wq=take(L*D*D); wk=take(L*kv*D); wv=take(L*kv*D); wo=take(L*D*D); fn=take(L*D); w1=take(L*H*D); w2=take(L*D*H); w3=take(L*H*D); fin=take(D)
def mv(w,off,x,rows,cols): return [sum(w[off+r*cols+k]*x[k] for k in range(cols)) for r in range(rows)]
def rms(x,w,off): s=1/math.sqrt(sum(v*v for v in x)/len(x)+1e-5); return [w[off+i]*x[i]*s for i in range(len(x))]
K=[[] for _ in range(L)]; Vv=[[] for _ in range(L)]
def step(tok,pos):
    x=list(emb[tok*D:(tok+1)*D])
    for l in range(L):
        xb=rms(x,an,l*D); q=mv(wq,l*D*D,xb,D,D); k=mv(wk,l*kv*D,xb,kv,D); v=mv(wv,l*kv*D,xb,kv,D)
        for vec in (q,k):
            for i in range(0,len(vec),2):
                fr=1/10000**((i%hs)/hs); c,s=math.cos(pos*fr),math.sin(pos*fr); a,bb=vec[i],vec[i+1]; vec[i]=a*c-bb*s; vec[i+1]=a*s+bb*c
        K[l].append(k); Vv[l].append(v); att=[0.0]*D
        for h in range(NH):
            g=h//(NH//NKV); sc=[sum(q[h*hs+i]*K[l][t][g*hs+i] for i in range(hs))/math.sqrt(hs) for t in range(pos+1)]
            m=max(sc); e=[math.exp(s-m) for s in sc]; z=sum(e)
            for i in range(hs): att[h*hs+i]=sum(e[t]*Vv[l][t][g*hs+i] for t in range(pos+1))/z
        o=mv(wo,l*D*D,att,D,D); x=[x[i]+o[i] for i in range(D)]
        xb=rms(x,fn,l*D); a1=mv(w1,l*H*D,xb,H,D); a3=mv(w3,l*H*D,xb,H,D); hh=[a1[i]/(1+math.exp(-a1[i]))*a3[i] for i in range(H)]
        o=mv(w2,l*D*H,hh,D,H); x=[x[i]+o[i] for i in range(D)]
    xb=rms(x,fin,0); lo=mv(emb,0,xb,V,D); return max(range(V),key=lambda i:lo[i])
tok=1; out=[]
for pos in range(12): tok=step(tok,pos); out.append(tok)
print(out)
