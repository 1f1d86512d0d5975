#include <stdio.h>
#include <math.h>
#include <sndfile.h>
#include "fetalmon/doppler.h"
static void sink(void *u, const fm_fhr_sample *s){ (void)u; if(!getenv("DOPDBG")) printf("%.2f,%.2f,%.3f,%s\n",s->t_s,s->fhr_bpm,s->quality,fm_state_name(s->state)); }
#include <stdlib.h>
int main(int c,char**v){ SF_INFO in={0}; SNDFILE*f=sf_open(v[1],SFM_READ,&in); float b[8192*8]; float m[8192];
 fm_doppler*q=fm_doppler_create(in.samplerate,NULL,sink,NULL); sf_count_t g;
 while((g=sf_readf_float(f,b,8192))>0){ for(int i=0;i<g;i++) m[i]=b[i*in.channels]; fm_doppler_push(q,m,g);} fm_doppler_flush(q); fm_doppler_destroy(q); sf_close(f); (void)c; return 0;}
