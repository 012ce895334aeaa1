// The floor of the in-flight guard's work on a big cache: list one directory, then on N threads either
// fstatat every file (mode 0), or open, read 8 KB and close each (mode 1), or the same with an fstat (mode 2),
// in the order the directory lists them, or with a fourth argument `sorted` in name order (a metadata file's
// name is a digest: the order of the in-flight index's table).
//   cc -O2 -pthread -o /tmp/read-floor bench/read-floor.c && /tmp/read-floor <home>/cache/manifests 1 1 [sorted]
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
static char **names; static int n, dfd, mode; static volatile int next;
static int byName(const void *a, const void *b){ return strcmp(*(char *const *)a, *(char *const *)b); }
static double now(){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec*1e3+t.tv_nsec/1e6;}
static void *work(void *a){ char buf[8192]; struct stat st; long sum=0;
  for(;;){ int i=__sync_fetch_and_add(&next,64); if(i>=n)break; int e=i+64>n?n:i+64;
    for(;i<e;i++){ if(mode==0){ fstatat(dfd,names[i],&st,AT_SYMLINK_NOFOLLOW); sum+=st.st_ctime;}
      else { int fd=openat(dfd,names[i],O_RDONLY|O_NOFOLLOW|O_CLOEXEC); if(mode==2) fstat(fd,&st); sum+=pread(fd,buf,sizeof buf,0); close(fd);} } }
  return (void*)sum; }
int main(int c,char**v){ dfd=open(v[1],O_RDONLY|O_DIRECTORY); int th=atoi(v[2]); mode=atoi(v[3]);
  double t0=now(); DIR*d=fdopendir(dup(dfd)); struct dirent*e; names=malloc(sizeof(char*)*2000000);
  while((e=readdir(d))) if(e->d_name[0]!='.') names[n++]=strdup(e->d_name);
  if(c>4 && !strcmp(v[4],"sorted")) qsort(names,n,sizeof *names,byName);
  double t1=now(); pthread_t p[8]; next=0; for(int i=0;i<th;i++)pthread_create(&p[i],0,work,0); for(int i=0;i<th;i++)pthread_join(p[i],0);
  printf("mode %d threads %d%s: list %.0f ms, per-file pass %.0f ms (%d files)\n",mode,th,c>4?", sorted":"",t1-t0,now()-t1,n); }
