{# Sort a table by a clicked column (numbers numerically, empty cells last; a second click
   reverses), and drive the sliders. Nothing else; no network, no errors when a page has neither. #}
(function(){
function key(td){var t=(td?td.textContent:'').trim();var n=parseFloat(t);
return t===''?null:(isNaN(n)||!/^[-+]?[0-9.]/.test(t)?t.toLowerCase():n);}
document.querySelectorAll('table.sortable').forEach(function(tbl){
tbl.querySelectorAll('thead th').forEach(function(th,col){th.addEventListener('click',function(){
var body=tbl.tBodies[0];var rows=Array.prototype.slice.call(body.rows);
var dir=th.dataset.dir==='asc'?-1:1;th.parentNode.querySelectorAll('th').forEach(function(h){
delete h.dataset.dir;});th.dataset.dir=dir===1?'asc':'desc';
rows.sort(function(a,b){var x=key(a.cells[col]),y=key(b.cells[col]);
if(x===null)return 1;if(y===null)return -1;if(typeof x!==typeof y){x=String(x);y=String(y);}
return x<y?-dir:x>y?dir:0;});rows.forEach(function(r){body.appendChild(r);});});});});
document.querySelectorAll('.slider').forEach(function(box){
var f=JSON.parse(box.dataset.frames);var input=box.querySelector('input');
var img=box.querySelector('img.frame');var label=box.querySelector('.label');
var file=box.querySelector('a.file');var play=box.querySelector('.play');var timer=null;
function show(i){input.value=i;img.src=f.src[i];file.href=f.src[i];label.textContent=f.label[i];}
input.addEventListener('input',function(){show(parseInt(input.value,10));});
play.addEventListener('click',function(){if(timer){clearInterval(timer);timer=null;
play.textContent='play';return;}play.textContent='pause';var i=0;show(0);
timer=setInterval(function(){i+=1;if(i>=f.src.length){clearInterval(timer);timer=null;
play.textContent='play';return;}show(i);},250);});});
})();
